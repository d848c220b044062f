package policy

// Host normalisation and authority splitting, the common ground every comparison stands on
// (2a29766:test/unit/egress/host-name.test.ts).

import (
	"strings"
	"testing"
)

func TestNormalizeHostNormalises(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{"Example.COM", "example.com"},
		{"example.com.", "example.com"},
		{"_acme.example.com", "_acme.example.com"},
		{"localhost", "localhost"},
		{"10.0.0.1", "10.0.0.1"},
		{"[2001:DB8::1]", "[2001:db8::1]"},
		{"2001:db8:0:0::1", "[2001:db8::1]"},
		{"::ffff:127.0.0.1", "127.0.0.1"},
		{"[::ffff:7f00:1]", "127.0.0.1"},
		// The ASCII form of an internationalised name is a name like any other.
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"XN--BCHER-KVA.example", "xn--bcher-kva.example"},
		// A label is a number only when it is the last one.
		{"0x.a", "0x.a"},
		{"1.a", "1.a"},
		{"a.0x1g", "a.0x1g"},
		{"ab--cd.com", "ab--cd.com"},
		{strings.Repeat("a", 63) + ".example", strings.Repeat("a", 63) + ".example"},
		{strings.Repeat("a.", 126) + "a", strings.Repeat("a.", 126) + "a"},
	} {
		host, ok := NormalizeHost(c.raw)
		if !ok || host.Text() != c.want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", c.raw, host.Text(), ok, c.want)
		}
	}
}

func TestNormalizeHostRefuses(t *testing.T) {
	for _, raw := range []string{
		"",
		".",
		"a..b",
		"example.com..",
		"-a.example",
		"a-.example",
		"a/b.example",
		"a%2eb.example",
		"a@b.example",
		"a:b",
		"a b",
		"*.example.com",
		"127.1",
		"0x7f.0.0.1",
		"10.0.0.1.",
		"[10.0.0.1]",
		"fe80::1%eth0",
		"[fe80::1%eth0]",
		"[]",
		strings.Repeat("a", 64) + ".example",
		strings.Repeat("a.", 127) + "aa",
		// The TypeScript maps these through IDNA (to xn--bcher-kva.example, example.com and the
		// dotted IPv4 127.0.0.1, which it refuses too); Go has no IDNA, so any non-ASCII is refused.
		"bücher.example",
		"ｅｘａｍｐｌｅ.com",
		"１２７.０.０.１",
		"\u212a.com", // KELVIN SIGN, which JavaScript lower-cases to `k`
		// Names ending in a number are read as IPv4 by a URL parser, or fail there.
		"a.1",
		"a.09",
		"a.0x",
		"a.0X1f",
		"4294967296",
		// Not Punycode (domainToASCII fails on them).
		"xn--zz.example",
		"xn--99",
		"xn--zzzzzzzzzzzzzzz",
		"a.xn--ab_",
		// More than four digits in an IPv6 group.
		"00001::",
		"[::00001]",
	} {
		if host, ok := NormalizeHost(raw); ok {
			t.Errorf("NormalizeHost(%q) = %q; want it refused", raw, host.Text())
		}
	}
}

// An `xn--` label is checked to be Punycode, but what it decodes to is not checked against IDNA
// (UTS 46): that takes Unicode tables the standard library does not have. These are refused by
// the TypeScript and accepted here, each compared as written, so none can stand for another host.
func TestNormalizeHostKeepsPunycodeIDNARefuses(t *testing.T) {
	for _, raw := range []string{
		"xn--abc.com",           // U+0080 U+0081 U+0082, control characters
		"xn--a.com",             // U+0080
		"xn--bcher-2pa.example", // bÜcher: upper case is mapped, so not valid in a label
		"xn--ph7ccd.com",        // ＡＢＣ: full-width forms are mapped
	} {
		host, ok := NormalizeHost(raw)
		if !ok || host.Text() != raw {
			t.Errorf("NormalizeHost(%q) = %q, %v; want it kept as written", raw, host.Text(), ok)
		}
	}
}

func TestSameHost(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"GitHub.com.", "github.com", true},
		{"[::ffff:7f00:1]", "127.0.0.1", true},
		{"2001:db8:0:0::1", "[2001:DB8::1]", true},
		{"github.com", "api.github.com", false},
		{"127.0.0.1", "127.0.0.2", false},
	} {
		a, okA := NormalizeHost(c.a)
		b, okB := NormalizeHost(c.b)
		if !okA || !okB || SameHost(a, b) != c.same {
			t.Errorf("SameHost(%q, %q) = %v; want %v", c.a, c.b, SameHost(a, b), c.same)
		}
	}
}

func TestParseAuthoritySplits(t *testing.T) {
	for _, c := range []struct {
		text        string
		defaultPort int
		host        string
		port        int
	}{
		{"a.test:443", 0, "a.test", 443},
		{"10.0.0.1:8080", 0, "10.0.0.1", 8080},
		{"[::1]:8443", 0, "[::1]", 8443},
		{"a.test", 80, "a.test", 80},
		{"[::1]", 80, "[::1]", 80},
		{"a.test:65535", 80, "a.test", 65535},
		{"a.test:00443", 0, "a.test", 443},
	} {
		host, port, ok := ParseAuthority(c.text, c.defaultPort)
		if !ok || host != c.host || port != c.port {
			t.Errorf("ParseAuthority(%q, %d) = %q, %d, %v; want %q, %d", c.text, c.defaultPort, host, port, ok, c.host, c.port)
		}
	}
}

func TestParseAuthorityRefusesWithoutDefaultPort(t *testing.T) {
	for _, text := range []string{"a.test", "a.test:", ":443", "a.test:0", "a.test:65536", "a.test:+443", "a.test:44 3", "::1:443", "[::1]443", "[::1", "[]:443"} {
		if host, port, ok := ParseAuthority(text, 0); ok {
			t.Errorf("ParseAuthority(%q) = %q, %d; want it refused", text, host, port)
		}
	}
}

func TestParsePort(t *testing.T) {
	for _, c := range []struct {
		text string
		port int
		ok   bool
	}{
		{"1", 1, true},
		{"443", 443, true},
		{"65535", 65535, true},
		{"08080", 8080, true},
		{"0", 0, false},
		{"65536", 0, false},
		{"99999", 0, false},
		{"000443", 0, false},
		{"", 0, false},
		{"+1", 0, false},
		{"1 ", 0, false},
		{"44\n", 0, false},
		{"٤٤٣", 0, false}, // Arabic-Indic digits
	} {
		port, ok := ParsePort(c.text)
		if port != c.port || ok != c.ok {
			t.Errorf("ParsePort(%q) = %d, %v; want %d, %v", c.text, port, ok, c.port, c.ok)
		}
	}
}

func TestParseIP(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"10.0.0.1", "10.0.0.1"},
		{"::FFFF:10.0.0.1", "10.0.0.1"},
		{"::ffff:a00:1", "10.0.0.1"},
		{"2606:4700:0:0:0:0:0:1111", "2606:4700::1111"},
		{"1:0:0:1:0:0:0:1", "1:0:0:1::1"},
		{"1:0:0:0:1:0:0:1", "1::1:0:0:1"},
		{"::1.2.3.4", "::102:304"},
		{"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
		{"", ""},
		{"[::1]", ""},
		{"fe80::1%eth0", ""},
		{"01.2.3.4", ""},
		{"1.2.3", ""},
		{"::ffff:1.2.3.04", ""},
		{"00001::", ""},
		{"localhost", ""},
	} {
		addr, ok := ParseIP(c.text)
		got := ""
		if ok {
			got = addr.String()
		}
		if got != c.want {
			t.Errorf("ParseIP(%q) = %q; want %q", c.text, got, c.want)
		}
	}
}

func TestParseIPRange(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"10.1.2.3/16", "10.1.0.0/16"},
		{"10.1.2.3", "10.1.2.3/32"},
		{"10.0.0.0/08", "10.0.0.0/8"},
		{"fd12::1/8", "fd00::/8"},
		{"::1", "::1/128"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"::ffff:10.9.8.7", "10.9.8.7/32"},
		{"::ffff:0:0/96", "0.0.0.0/0"},
		{"::ffff:10.0.0.0/95", "::fffe:0:0/95"},
		{"::/0", "::/0"},
		{"10.0.0.0/33", ""},
		{"::/129", ""},
		{"10.0.0.0/", ""},
		{"10.0.0.0/0032", ""},
		{"10.0.0.0/+8", ""},
		{"10.0.0.0/8/8", ""},
		{"fe80::/10%eth0", ""},
		{"fe80::%eth0/10", ""},
		{"a.test/8", ""},
		{"/8", ""},
	} {
		r, ok := ParseIPRange(c.text)
		got := ""
		if ok {
			got = r.String()
		}
		if got != c.want {
			t.Errorf("ParseIPRange(%q) = %q; want %q", c.text, got, c.want)
		}
	}
}

func TestValidPunycode(t *testing.T) {
	for _, c := range []struct {
		label string
		ok    bool
	}{
		{"bcher-kva", true}, // bücher
		{"9ca", true},       // é
		{"-9ca", true},      // a leading delimiter is dropped, as the TypeScript's URL parser does
		{"e28h", true},      // 😀
		{"abc", true},       // U+0080 and more: Punycode, though IDNA refuses the result
		{"a", true},         // U+0080 alone, likewise
		{"", false},
		{"-", false},
		{"99", false},
		{"zzzzzzzzzzzzzzz", false},
		{"a_b", false},
	} {
		if got := validPunycode(c.label); got != c.ok {
			t.Errorf("validPunycode(%q) = %v; want %v", c.label, got, c.ok)
		}
	}
}
