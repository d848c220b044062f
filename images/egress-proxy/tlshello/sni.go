// Package tlshello reads the server name out of a TLS ClientHello, so the proxy can hold a tunnel
// to the name it was asked for: without this, `CONNECT allowed.com:443` followed by a ClientHello
// for another site on the same CDN address reaches that other site (domain fronting).
//
// The parser is strict on purpose. Every length must agree with its container; anything it does
// not understand is Invalid, never "no server name", because a reading that differs from the
// server's is exactly the gap an attacker would use.
//
// This is a port of 2a29766:src/egress/sni.ts and 2a29766:src/egress/client-hello-reader.ts; the rules and the
// reason strings are the same.
package tlshello

import "strconv"

// MaxClientHelloBytes is the largest ClientHello accepted (its body, without the 4-byte handshake
// header); real ones are well under 2 KiB, and one record holds 16 KiB.
const MaxClientHelloBytes = 16 * 1024

// Status is the outcome of ParseClientHello.
type Status int

const (
	// Incomplete means more bytes are needed; call again with more of the stream.
	Incomplete Status = iota
	// Complete means a whole ClientHello was read; ServerName and HasServerName hold its name.
	Complete
	// Invalid means the bytes are not a ClientHello this parser accepts; Reason says why.
	Invalid
)

func (s Status) String() string {
	switch s {
	case Incomplete:
		return "incomplete"
	case Complete:
		return "complete"
	case Invalid:
		return "invalid"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Parse is the result of ParseClientHello. ServerName and HasServerName are set only when Status
// is Complete (HasServerName false is the TypeScript `serverName: null`); Reason only when Invalid.
type Parse struct {
	Status        Status
	ServerName    string
	HasServerName bool
	Reason        string
}

const (
	recordHandshake      = 22
	handshakeClientHello = 1
	maxRecordLength      = 16 * 1024
	extensionServerName  = 0
	nameTypeHostName     = 0
)

// malformed is the reason a ClientHello is refused (the TypeScript Malformed error).
type malformed string

func (m malformed) Error() string { return string(m) }

// errOverrun is what every read past the end of a length-delimited field reports.
const errOverrun = malformed("length runs past the end of its field")

// ParseClientHello parses the start of a client's byte stream. The ClientHello may be split over
// several TLS records and arrive over several TCP chunks; call again with more bytes while the
// result is Incomplete. Bytes after the ClientHello's last record are ignored.
func ParseClientHello(data []byte) Parse {
	message, complete, err := reassembleHandshake(data)
	if err != nil {
		return Parse{Status: Invalid, Reason: err.Error()}
	}
	if !complete {
		return Parse{Status: Incomplete}
	}
	name, ok, err := readServerName(message)
	if err != nil {
		return Parse{Status: Invalid, Reason: err.Error()}
	}
	return Parse{Status: Complete, ServerName: name, HasServerName: ok}
}

// reassembleHandshake returns the ClientHello handshake message body (without its 4-byte header)
// and true, or false if more bytes are needed.
func reassembleHandshake(data []byte) ([]byte, bool, error) {
	var fragments []byte
	needed := -1 // -1: not known until the first 4 handshake bytes are in
	offset := 0
	for needed < 0 || len(fragments) < needed {
		if len(data)-offset < 5 {
			return nil, false, nil
		}
		if data[offset] != recordHandshake {
			if offset == 0 {
				return nil, false, malformed("not a TLS handshake record")
			}
			return nil, false, malformed("ClientHello interrupted by a non-handshake record")
		}
		if data[offset+1] != 3 {
			return nil, false, malformed("unknown TLS record version")
		}
		length := int(data[offset+3])<<8 | int(data[offset+4])
		if length == 0 || length > maxRecordLength {
			return nil, false, malformed("bad TLS record length " + strconv.Itoa(length))
		}
		if len(data)-offset-5 < length {
			return nil, false, nil
		}
		fragments = append(fragments, data[offset+5:offset+5+length]...)
		offset += 5 + length

		if needed < 0 && len(fragments) >= 4 {
			if fragments[0] != handshakeClientHello {
				return nil, false, malformed("first handshake message is not a ClientHello")
			}
			needed = 4 + (int(fragments[1])<<16 | int(fragments[2])<<8 | int(fragments[3]))
			if needed-4 > MaxClientHelloBytes {
				return nil, false, malformed("ClientHello too large")
			}
		}
	}
	// The client's first flight is the ClientHello alone; more handshake bytes behind it are not TLS.
	if len(fragments) != needed {
		return nil, false, malformed("unexpected handshake data after the ClientHello")
	}
	return fragments[4:], true, nil
}

func readServerName(body []byte) (string, bool, error) {
	r := &reader{bytes: body}
	version, err := r.u8()
	if err != nil {
		return "", false, err
	}
	if version != 3 {
		return "", false, malformed("unknown ClientHello version")
	}
	if _, err := r.take(1 + 32); err != nil { // minor version, random
		return "", false, err
	}
	sessionID, err := r.u8()
	if err != nil {
		return "", false, err
	}
	if sessionID > 32 {
		return "", false, malformed("session id too long")
	}
	if _, err := r.take(sessionID); err != nil {
		return "", false, err
	}
	suites, err := r.u16()
	if err != nil {
		return "", false, err
	}
	if suites < 2 || suites%2 != 0 {
		return "", false, malformed("bad cipher suite list")
	}
	if _, err := r.take(suites); err != nil {
		return "", false, err
	}
	compression, err := r.u8()
	if err != nil {
		return "", false, err
	}
	if compression < 1 {
		return "", false, malformed("empty compression list")
	}
	if _, err := r.take(compression); err != nil {
		return "", false, err
	}
	if r.remaining() == 0 {
		return "", false, nil // no extensions at all (old clients): no server name
	}

	extensions, err := r.sub16()
	if err != nil {
		return "", false, err
	}
	if r.remaining() != 0 {
		return "", false, malformed("bytes after the extensions")
	}
	seen := make(map[int]bool)
	serverName, hasServerName := "", false
	for extensions.remaining() > 0 {
		typ, err := extensions.u16()
		if err != nil {
			return "", false, err
		}
		data, err := extensions.sub16()
		if err != nil {
			return "", false, err
		}
		if seen[typ] {
			return "", false, malformed("extension " + strconv.Itoa(typ) + " appears twice")
		}
		seen[typ] = true
		if typ == extensionServerName {
			if serverName, err = readServerNameList(data); err != nil {
				return "", false, err
			}
			hasServerName = true
		}
	}
	return serverName, hasServerName, nil
}

func readServerNameList(ext *reader) (string, error) {
	list, err := ext.sub16()
	if err != nil {
		return "", err
	}
	if ext.remaining() != 0 {
		return "", malformed("bytes after the server name list")
	}
	hostName, hasHostName := "", false
	for list.remaining() > 0 {
		typ, err := list.u8()
		if err != nil {
			return "", err
		}
		n, err := list.u16()
		if err != nil {
			return "", err
		}
		name, err := list.take(n)
		if err != nil {
			return "", err
		}
		// RFC 6066 defines only host_name and allows one of each type; anything else is refused
		// rather than skipped, since a server might read it differently.
		if typ != nameTypeHostName {
			return "", malformed("unknown server name type " + strconv.Itoa(typ))
		}
		if hasHostName {
			return "", malformed("more than one host name")
		}
		if !isHostNameBytes(name) {
			return "", malformed("server name is not an ASCII host name")
		}
		hostName, hasHostName = string(name), true
	}
	if !hasHostName {
		return "", malformed("empty server name list")
	}
	return hostName, nil
}

// isHostNameBytes is the TypeScript /^[A-Za-z0-9._-]+$/ over the name's bytes.
func isHostNameBytes(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// reader walks a length-delimited field; every read past its end is errOverrun.
type reader struct {
	bytes  []byte
	offset int
}

func (r *reader) remaining() int { return len(r.bytes) - r.offset }

func (r *reader) take(n int) ([]byte, error) {
	if n > r.remaining() {
		return nil, errOverrun
	}
	slice := r.bytes[r.offset : r.offset+n]
	r.offset += n
	return slice, nil
}

func (r *reader) u8() (int, error) {
	b, err := r.take(1)
	if err != nil {
		return 0, err
	}
	return int(b[0]), nil
}

func (r *reader) u16() (int, error) {
	b, err := r.take(2)
	if err != nil {
		return 0, err
	}
	return int(b[0])<<8 | int(b[1]), nil
}

// sub16 reads a 16-bit length and returns a reader over that many following bytes.
func (r *reader) sub16() (*reader, error) {
	n, err := r.u16()
	if err != nil {
		return nil, err
	}
	b, err := r.take(n)
	if err != nil {
		return nil, err
	}
	return &reader{bytes: b}, nil
}
