// Package policy is the egress proxy's allow list: host names and addresses in one spelling, the
// allow-list entries, the question "may this host and port be reached?", the ranges no resolved
// address may fall in unless an entry names them, and the policy file.
//
// It is a port of 2a29766:src/egress/{host-name,ip-address,policy,address-guard,policy-file}.ts and gives
// the same decisions with the same reason texts, with one deliberate difference: the TypeScript
// runs non-ASCII names through IDNA (domainToASCII) and Go's standard library has no IDNA, so here
// a host name holding any non-ASCII byte is refused like any other invalid name. Names must be
// written in their ASCII (`xn--`) form.
package policy

// One spelling per destination (host-name.ts). A policy, a CONNECT line, a URL and a TLS server
// name are compared only after they pass through here, so `GitHub.com.` and `github.com` are the
// same host and nothing else is.

import (
	"net/netip"
	"regexp"
	"strings"
)

// Host is a normalised host: a lower-case ASCII name, or an address (IPv4-mapped IPv6 folded to
// IPv4, no zone).
type Host struct {
	IsIP bool
	// Name is set when !IsIP.
	Name string
	// Addr is set when IsIP.
	Addr netip.Addr
}

var label = regexp.MustCompile(`^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$`)

// nameCharacters is the TypeScript NAME_CHARACTERS without its non-ASCII part: `/`, `%`, `@` and
// `:` are URL syntax to a URL parser (`a.com/x` is `a.com` there), so they never reach a name.
var nameCharacters = regexp.MustCompile(`^[a-z0-9._-]+$`)

// NormalizeHost normalises a host name or IP literal (IPv6 with or without brackets). ok is false
// when raw is neither.
//
// Unlike the TypeScript, which runs non-ASCII names through IDNA, a name holding any non-ASCII
// byte is refused (`bücher.example` must be written `xn--bcher-kva.example`).
func NormalizeHost(raw string) (Host, bool) {
	for i := 0; i < len(raw); i++ {
		if raw[i] >= 0x80 {
			return Host{}, false
		}
	}
	text := strings.ToLower(raw)
	if len(text) >= 2 && text[0] == '[' && text[len(text)-1] == ']' {
		inner := text[1 : len(text)-1]
		// Only IPv6 goes in brackets: `[10.0.0.1]` is refused.
		addr, ok := parsePlainAddr(inner)
		if !ok || !addr.Is6() {
			return Host{}, false
		}
		return Host{IsIP: true, Addr: addr.Unmap()}, true
	}
	if addr, ok := ParseIP(text); ok {
		return Host{IsIP: true, Addr: addr}, true
	}

	name := strings.TrimSuffix(text, ".")
	if !nameCharacters.MatchString(name) {
		return Host{}, false
	}
	// The TypeScript gets these refusals from domainToASCII: a URL parser reads a name whose last
	// label is a number (`127.1`, `0x7f.0.0.1`, `10.0.0.1.`) as an IPv4 address, or fails on it.
	// Such a spelling is refused rather than guessed at: an address must be written as one.
	if endsInANumber(name) || len(name) > 253 {
		return Host{}, false
	}
	for _, l := range strings.Split(name, ".") {
		if !label.MatchString(l) {
			return Host{}, false
		}
		if strings.HasPrefix(l, "xn--") && !validPunycode(l[len("xn--"):]) {
			return Host{}, false
		}
	}
	return Host{Name: name}, true
}

// Text is the host as text: a name, dotted IPv4, or bracketed IPv6 (RFC 5952).
func (h Host) Text() string {
	if !h.IsIP {
		return h.Name
	}
	if h.Addr.Is6() {
		return "[" + h.Addr.String() + "]"
	}
	return h.Addr.String()
}

// SameHost reports whether a and b are the same host.
func SameHost(a, b Host) bool {
	return a.Text() == b.Text()
}

// ParseAuthority splits `host:port` or `[v6]:port`. Without a port, defaultPort is used, or the
// authority is refused when defaultPort is 0. An unbracketed IPv6 address is refused: its last
// group looks like a port. host is returned as written (brackets kept), not normalised.
func ParseAuthority(text string, defaultPort int) (host string, port int, ok bool) {
	var portText string
	hasPort := false
	if strings.HasPrefix(text, "[") {
		end := strings.IndexByte(text, ']')
		if end < 0 {
			return "", 0, false
		}
		host = text[:end+1]
		rest := text[end+1:]
		if rest != "" && !strings.HasPrefix(rest, ":") {
			return "", 0, false
		}
		if rest != "" {
			hasPort, portText = true, rest[1:]
		}
	} else {
		colon := strings.LastIndexByte(text, ':')
		host = text
		if colon >= 0 {
			host, hasPort, portText = text[:colon], true, text[colon+1:]
		}
		if strings.Contains(host, ":") {
			return "", 0, false
		}
	}
	if host == "" || host == "[]" {
		return "", 0, false
	}
	if !hasPort {
		if defaultPort == 0 {
			return "", 0, false
		}
		return host, defaultPort, true
	}
	port, ok = ParsePort(portText)
	if !ok {
		return "", 0, false
	}
	return host, port, true
}

var portDigits = regexp.MustCompile(`^[0-9]{1,5}$`)

// ParsePort reads a port: one to five ASCII digits, 1 to 65535.
func ParsePort(text string) (int, bool) {
	if !portDigits.MatchString(text) {
		return 0, false
	}
	port := 0
	for i := 0; i < len(text); i++ {
		port = port*10 + int(text[i]-'0')
	}
	if port < 1 || port > 65535 {
		return 0, false
	}
	return port, true
}

// endsInANumber is the WHATWG URL "ends in a number" checker: such a host is parsed as IPv4 (and
// refused when that fails), never as a domain.
func endsInANumber(name string) bool {
	parts := strings.Split(name, ".")
	if parts[len(parts)-1] == "" {
		if len(parts) == 1 {
			return false
		}
		parts = parts[:len(parts)-1]
	}
	last := parts[len(parts)-1]
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	if strings.HasPrefix(last, "0x") || strings.HasPrefix(last, "0X") {
		return strings.Trim(last[2:], "0123456789abcdefABCDEF") == ""
	}
	return false
}

// validPunycode reports whether the part of an `xn--` label after the prefix decodes as Punycode
// (RFC 3492) the way the URL parser behind domainToASCII (ada) decodes it: everything before the
// last `-` is copied, that `-` is dropped even when it comes first, and what is left must decode
// to code points from U+0080 up without overflow. The result must not be empty.
//
// IDNA goes further: the decoded label must hold only code points UTS 46 calls valid, in NFC. That
// needs Unicode tables the standard library does not have, so a label like `xn--bcher-2pa`
// (`bÜcher`), which the TypeScript refuses, is accepted here. It is still compared as written,
// so it can never stand for another host.
func validPunycode(s string) bool {
	const (
		base        = 36
		tmin        = 1
		tmax        = 26
		skew        = 38
		damp        = 700
		initialBias = 72
		initialN    = 128
		maxInt      = 0x7fffffff
	)
	written := 0
	if end := strings.LastIndexByte(s, '-'); end >= 0 {
		written = end // ASCII only: the caller passed a label that matched the label pattern
		s = s[end+1:]
	}
	n, i, bias := int64(initialN), int64(0), int64(initialBias)
	for len(s) > 0 {
		oldi, w := i, int64(1)
		for k := int64(base); ; k += base {
			if len(s) == 0 {
				return false
			}
			c := s[0]
			s = s[1:]
			var digit int64
			switch {
			case c >= 'a' && c <= 'z':
				digit = int64(c - 'a')
			case c >= 'A' && c <= 'Z':
				digit = int64(c - 'A')
			case c >= '0' && c <= '9':
				digit = int64(c-'0') + 26
			default:
				return false
			}
			if digit > (maxInt-i)/w {
				return false
			}
			i += digit * w
			t := k - bias
			if k <= bias {
				t = tmin
			} else if k >= bias+tmax {
				t = tmax
			}
			if digit < t {
				break
			}
			if w > maxInt/(base-t) {
				return false
			}
			w *= base - t
		}
		// adapt
		delta := i - oldi
		if oldi == 0 {
			delta /= damp
		} else {
			delta /= 2
		}
		delta += delta / int64(written+1)
		k := int64(0)
		for delta > ((base-tmin)*tmax)/2 {
			delta /= base - tmin
			k += base
		}
		bias = k + (base-tmin+1)*delta/(delta+skew)

		if i/int64(written+1) > maxInt-n {
			return false
		}
		n += i / int64(written+1)
		i %= int64(written + 1)
		if n < 0x80 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff) {
			return false
		}
		written++
		i++
	}
	return written > 0
}
