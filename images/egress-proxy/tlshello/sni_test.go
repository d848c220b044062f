package tlshello

// The ClientHello parser: real hellos from Go's TLS client, split every way TCP may split them,
// and malformed ones that must be refused rather than read as "no server name".
// A port of 2a29766:test/unit/egress/sni.test.ts, with cases for the reasons it does not reach.

import (
	"bytes"
	"testing"

	"sandboxshift.dev/egress/internal/hellotest"
)

func complete(name string) Parse {
	return Parse{Status: Complete, ServerName: name, HasServerName: true}
}

var (
	noServerName = Parse{Status: Complete}
	incomplete   = Parse{Status: Incomplete}
)

func invalid(reason string) Parse { return Parse{Status: Invalid, Reason: reason} }

func expectParse(t *testing.T, data []byte, want Parse) {
	t.Helper()
	if got := ParseClientHello(data); got != want {
		t.Fatalf("ParseClientHello(% x)\n got %+v\nwant %+v", truncateForLog(data), got, want)
	}
}

func truncateForLog(data []byte) []byte {
	if len(data) > 64 {
		return data[:64]
	}
	return data
}

func TestRealHelloServerName(t *testing.T) {
	expectParse(t, hellotest.Capture(t, "allowed.test"), complete("allowed.test"))
}

func TestRealHelloWithoutServerName(t *testing.T) {
	expectParse(t, hellotest.Capture(t, ""), noServerName)
	// Go's client, like Node's, sends no server_name for an IP address.
	expectParse(t, hellotest.Capture(t, "127.0.0.1"), noServerName)
}

func TestRealHelloPrefixesAndTrailingBytes(t *testing.T) {
	hello := hellotest.Capture(t, "api.github.com")
	for cut := 0; cut < len(hello); cut++ {
		expectParse(t, hello[:cut], incomplete)
	}
	withEarlyData := cat(hello, []byte{23, 3, 3, 0, 1, 0})
	expectParse(t, withEarlyData, complete("api.github.com"))
}

func TestRealHelloSplitOverRecords(t *testing.T) {
	message := handshakeOf(hellotest.Capture(t, "allowed.test"))
	for _, size := range []int{1, 3, 100} {
		records := inRecords(message, size)
		expectParse(t, records, complete("allowed.test"))
		expectParse(t, records[:len(records)-1], incomplete)
	}
}

// parse is the TypeScript test's `parse`: the message in records of up to 16 KiB.
func parse(message []byte) Parse { return ParseClientHello(inRecords(message, 0)) }

func TestHandMadeMinimalHellos(t *testing.T) {
	cases := []struct {
		name  string
		parts helloParts
		want  Parse
	}{
		{"server name", helloParts{serverNames: []string{"a.test"}}, complete("a.test")},
		{"other extension only", helloParts{extensions: []extension{{43, []byte{2, 3, 4}}}}, noServerName},
		{"empty extensions block", helloParts{}, noServerName},
		{"no extensions block", helloParts{noExtensions: true}, noServerName},
		{"every host name byte", helloParts{serverNames: []string{"Az09._-"}}, complete("Az09._-")},
		{"server name after other extensions", helloParts{
			extensions: []extension{{43, []byte{2, 3, 4}}, {0, cat(u16(9), []byte{0}, u16(6), []byte("b.test"))}, {10, nil}},
		}, complete("b.test")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := parse(clientHelloMessage(c.parts)); got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestSizeLimit(t *testing.T) {
	padding := func(n int) []extension { return []extension{{21, make([]byte, n)}} }
	near := clientHelloMessage(helloParts{serverNames: []string{"a.test"}, extensions: padding(16*1024 - 100)})
	if got, want := parse(near), complete("a.test"); got != want {
		t.Fatalf("near the limit: got %+v, want %+v", got, want)
	}
	over := clientHelloMessage(helloParts{serverNames: []string{"a.test"}, extensions: padding(16 * 1024)})
	if got, want := parse(over), invalid("ClientHello too large"); got != want {
		t.Fatalf("over the limit: got %+v, want %+v", got, want)
	}

	// Exactly at the limit (a body of 16384 bytes, which takes two records) and one byte over.
	withBodyOf := func(n int) []byte {
		base := clientHelloMessage(helloParts{serverNames: []string{"a.test"}, extensions: padding(0)})
		return clientHelloMessage(helloParts{serverNames: []string{"a.test"}, extensions: padding(n - (len(base) - 4))})
	}
	atLimit := withBodyOf(MaxClientHelloBytes)
	if len(atLimit) != 4+MaxClientHelloBytes {
		t.Fatalf("built a hello of %d bytes", len(atLimit))
	}
	if got, want := parse(atLimit), complete("a.test"); got != want {
		t.Fatalf("at the limit: got %+v, want %+v", got, want)
	}
	if got, want := parse(withBodyOf(MaxClientHelloBytes+1)), invalid("ClientHello too large"); got != want {
		t.Fatalf("one byte over the limit: got %+v, want %+v", got, want)
	}
	// The size is refused from the handshake header alone, before the body arrives.
	if got, want := ParseClientHello(inRecords(withBodyOf(MaxClientHelloBytes + 1)[:4], 0)), invalid("ClientHello too large"); got != want {
		t.Fatalf("header alone: got %+v, want %+v", got, want)
	}
}

type invalidCase struct {
	name, reason string
	build        func() []byte
}

// The TypeScript test's table, case for case.
var invalidCases = []invalidCase{
	{"plain HTTP", "not a TLS handshake record", func() []byte { return []byte("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n") }},
	{"an application data record", "not a TLS handshake record", func() []byte { return []byte{23, 3, 3, 0, 5, 1, 2, 3, 4, 5} }},
	{"a ServerHello", "first handshake message is not a ClientHello", func() []byte {
		return inRecords(cat([]byte{2}, clientHelloMessage(helloParts{})[1:]), 0)
	}},
	{"an SSLv2-style record version", "unknown TLS record version", func() []byte {
		return cat([]byte{22, 2, 0}, inRecords(clientHelloMessage(helloParts{}), 0)[3:])
	}},
	{"a record longer than 16 KiB", "bad TLS record length 16385", func() []byte { return []byte{22, 3, 1, 0x40, 0x01} }},
	{"a zero-length record", "bad TLS record length 0", func() []byte { return []byte{22, 3, 1, 0, 0} }},
	{"two server_name extensions", "extension 0 appears twice", func() []byte {
		second := cat([]byte{0, 9, 0, 0, 6}, []byte("b.test"))
		return inRecords(clientHelloMessage(helloParts{serverNames: []string{"a.test"}, extensions: []extension{{0, second}}}), 0)
	}},
	{"two host names", "more than one host name", func() []byte {
		return inRecords(clientHelloMessage(helloParts{serverNames: []string{"a.test", "b.test"}}), 0)
	}},
	{"an empty server name list", "empty server name list", func() []byte {
		return inRecords(clientHelloMessage(helloParts{extensions: []extension{{0, []byte{0, 0}}}}), 0)
	}},
	{"an empty server_name extension", "length runs past the end of its field", func() []byte {
		return inRecords(clientHelloMessage(helloParts{extensions: []extension{{0, []byte{}}}}), 0)
	}},
	{"a server name with a NUL byte", "server name is not an ASCII host name", func() []byte {
		return inRecords(clientHelloMessage(helloParts{serverNames: []string{"a.test\x00.evil.test"}}), 0)
	}},
	{"a server name with non-ASCII bytes", "server name is not an ASCII host name", func() []byte {
		return inRecords(clientHelloMessage(helloParts{serverNames: []string{"b\xfccher.test"}}), 0)
	}},
	{"an unknown name type", "unknown server name type 1", func() []byte {
		return inRecords(clientHelloMessage(helloParts{extensions: []extension{{0, []byte{0, 4, 1, 0, 1, 0x61}}}}), 0)
	}},
	{"bytes after the extensions", "bytes after the extensions", func() []byte {
		message := clientHelloMessage(helloParts{serverNames: []string{"a.test"}})
		longer := cat(message, []byte{0})
		copy(longer[1:4], u24(len(message)-4+1))
		return inRecords(longer, 0)
	}},
	{"an extension running past its block", "length runs past the end of its field", func() []byte {
		message := clientHelloMessage(helloParts{serverNames: []string{"a.test"}})
		message[len(message)-len("a.test")-2] = 0xff // high byte of the name length
		return inRecords(message, 0)
	}},
	{"a handshake shorter than its record", "unexpected handshake data after the ClientHello", func() []byte {
		return inRecords(cat(clientHelloMessage(helloParts{serverNames: []string{"a.test"}}), []byte{1}), 0)
	}},
	{"a non-handshake record between fragments", "ClientHello interrupted by a non-handshake record", func() []byte {
		message := clientHelloMessage(helloParts{serverNames: []string{"a.test"}})
		return cat(inRecords(message[:10], 0), []byte{21, 3, 3, 0, 2, 1, 0}, inRecords(message[10:], 0))
	}},
}

// Cases the TypeScript test does not have: the remaining reasons, and edges of the ones it has.
var moreInvalidCases = []invalidCase{
	{"a UTF-8 server name", "server name is not an ASCII host name", func() []byte {
		return inRecords(clientHelloMessage(helloParts{serverNames: []string{"bücher.test"}}), 0)
	}},
	{"an empty host name", "server name is not an ASCII host name", func() []byte {
		return inRecords(clientHelloMessage(helloParts{serverNames: []string{""}}), 0)
	}},
	{"a host name with a space", "server name is not an ASCII host name", func() []byte {
		return inRecords(clientHelloMessage(helloParts{serverNames: []string{"a test"}}), 0)
	}},
	{"a server_name extension with no names", "empty server name list", func() []byte {
		return inRecords(clientHelloMessage(helloParts{serverNames: []string{}}), 0)
	}},
	{"another extension twice", "extension 43 appears twice", func() []byte {
		return inRecords(clientHelloMessage(helloParts{extensions: []extension{{43, []byte{2, 3, 4}}, {10, nil}, {43, nil}}}), 0)
	}},
	{"a repeated extension whose length overruns", "length runs past the end of its field", func() []byte {
		message := clientHelloMessage(helloParts{extensions: []extension{{43, nil}, {43, []byte{1}}}})
		message[len(message)-2] = 2 // the second extension's length: 2 bytes, where 1 is left
		return inRecords(message, 0)
	}},
	{"bytes after the server name list", "bytes after the server name list", func() []byte {
		return inRecords(clientHelloMessage(helloParts{extensions: []extension{{0, cat([]byte{0, 9, 0, 0, 6}, []byte("a.test"), []byte{0})}}}), 0)
	}},
	{"an unknown name type after a host name", "unknown server name type 255", func() []byte {
		list := cat([]byte{0}, u16(6), []byte("a.test"), []byte{255}, u16(1), []byte("x"))
		return inRecords(clientHelloMessage(helloParts{extensions: []extension{{0, cat(u16(len(list)), list)}}}), 0)
	}},
	{"a name length running past the list", "length runs past the end of its field", func() []byte {
		return inRecords(clientHelloMessage(helloParts{extensions: []extension{{0, cat([]byte{0, 9, 0, 0, 7}, []byte("a.test"))}}}), 0)
	}},
	{"a one-byte extensions block", "length runs past the end of its field", func() []byte {
		message := clientHelloMessage(helloParts{noExtensions: true})
		longer := cat(message, []byte{0})
		copy(longer[1:4], u24(len(longer)-4))
		return inRecords(longer, 0)
	}},
	{"an extensions block longer than the hello", "length runs past the end of its field", func() []byte {
		message := clientHelloMessage(helloParts{serverNames: []string{"a.test"}})
		shorter := message[:len(message)-1]
		copy(shorter[1:4], u24(len(shorter)-4))
		return inRecords(shorter, 0)
	}},
	{"an empty ClientHello", "length runs past the end of its field", func() []byte {
		return inRecords([]byte{1, 0, 0, 0}, 0)
	}},
	{"a TLS 2 ClientHello", "unknown ClientHello version", func() []byte {
		message := clientHelloMessage(helloParts{})
		message[4] = 4
		return inRecords(message, 0)
	}},
	{"a hello cut inside its random", "length runs past the end of its field", func() []byte {
		return inRecords(cat([]byte{1}, u24(20), []byte{3, 3}, make([]byte, 18)), 0)
	}},
	{"a session id over 32 bytes", "session id too long", func() []byte {
		message := clientHelloMessage(helloParts{})
		message[4+2+32] = 33
		return inRecords(message, 0)
	}},
	{"no cipher suites", "bad cipher suite list", func() []byte {
		body := cat([]byte{3, 3}, make([]byte, 32), []byte{0}, u16(0), []byte{1, 0})
		return inRecords(cat([]byte{1}, u24(len(body)), body), 0)
	}},
	{"an odd cipher suite list", "bad cipher suite list", func() []byte {
		body := cat([]byte{3, 3}, make([]byte, 32), []byte{0}, u16(3), []byte{0x13, 0x01, 0x13}, []byte{1, 0})
		return inRecords(cat([]byte{1}, u24(len(body)), body), 0)
	}},
	{"no compression methods", "empty compression list", func() []byte {
		body := cat([]byte{3, 3}, make([]byte, 32), []byte{0}, u16(2), []byte{0x13, 0x01}, []byte{0})
		return inRecords(cat([]byte{1}, u24(len(body)), body), 0)
	}},
	{"a bad version in the second record", "unknown TLS record version", func() []byte {
		records := inRecords(clientHelloMessage(helloParts{serverNames: []string{"a.test"}}), 10)
		records[15+1] = 2
		return records
	}},
	{"an oversized second record", "bad TLS record length 16385", func() []byte {
		return cat(inRecords([]byte{1, 0, 0x40}, 0), []byte{22, 3, 3, 0x40, 0x01})
	}},
	{"a ServerHello a byte at a time", "first handshake message is not a ClientHello", func() []byte {
		return inRecords(cat([]byte{2}, clientHelloMessage(helloParts{})[1:]), 1)
	}},
	{"a second handshake message in the next record", "unexpected handshake data after the ClientHello", func() []byte {
		message := clientHelloMessage(helloParts{serverNames: []string{"a.test"}})
		return cat(inRecords(message[:len(message)-1], 0), inRecords(cat(message[len(message)-1:], []byte{1}), 0))
	}},
}

func TestInvalidHellos(t *testing.T) {
	for _, c := range invalidCases {
		t.Run(c.name, func(t *testing.T) { expectParse(t, c.build(), invalid(c.reason)) })
	}
}

func TestMoreInvalidHellos(t *testing.T) {
	for _, c := range moreInvalidCases {
		t.Run(c.name, func(t *testing.T) { expectParse(t, c.build(), invalid(c.reason)) })
	}
}

// What ReadClientHello relies on: every prefix of the stream is Incomplete or reads as the whole
// does, so it can decide as soon as a prefix is not Incomplete.
func TestPrefixesAreIncompleteOrFinal(t *testing.T) {
	inputs := [][]byte{
		hellotest.Capture(t, "allowed.test"),
		inRecords(clientHelloMessage(helloParts{serverNames: []string{"a.test"}}), 3),
	}
	for _, c := range append(append([]invalidCase(nil), invalidCases...), moreInvalidCases...) {
		inputs = append(inputs, c.build())
	}
	for _, data := range inputs {
		checkPrefixes(t, data)
	}
}

func checkPrefixes(t *testing.T, data []byte) {
	t.Helper()
	whole := ParseClientHello(data)
	for cut := 0; cut <= len(data); cut++ {
		got := ParseClientHello(data[:cut])
		if got != incomplete && got != whole {
			t.Fatalf("the first %d of %d bytes read as %+v, the whole as %+v", cut, len(data), got, whole)
		}
	}
}

// The parser never keeps a reference into its input past the call, and never changes it.
func TestInputUntouched(t *testing.T) {
	hello := inRecords(clientHelloMessage(helloParts{serverNames: []string{"a.test"}}), 5)
	before := append([]byte(nil), hello...)
	expectParse(t, hello, complete("a.test"))
	if !bytes.Equal(hello, before) {
		t.Fatal("ParseClientHello changed its input")
	}
}

func FuzzParseClientHello(f *testing.F) {
	f.Add(inRecords(clientHelloMessage(helloParts{serverNames: []string{"a.test"}}), 0))
	f.Add(inRecords(clientHelloMessage(helloParts{serverNames: []string{"a.test"}, extensions: []extension{{43, []byte{2, 3, 4}}}}), 7))
	f.Add(inRecords(clientHelloMessage(helloParts{noExtensions: true}), 0))
	for _, c := range append(append([]invalidCase(nil), invalidCases...), moreInvalidCases...) {
		f.Add(c.build())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole := ParseClientHello(data)
		switch whole.Status {
		case Incomplete:
			if whole != incomplete {
				t.Fatalf("incomplete with fields set: %+v", whole)
			}
		case Complete:
			if whole.Reason != "" || (!whole.HasServerName && whole.ServerName != "") || (whole.HasServerName && !isHostNameBytes([]byte(whole.ServerName))) {
				t.Fatalf("bad complete result: %+v", whole)
			}
		case Invalid:
			if whole.Reason == "" || whole.ServerName != "" || whole.HasServerName {
				t.Fatalf("bad invalid result: %+v", whole)
			}
		default:
			t.Fatalf("unknown status: %+v", whole)
		}
		checkPrefixes(t, data)
	})
}
