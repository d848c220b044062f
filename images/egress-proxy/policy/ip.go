package policy

// IP addresses and ranges (ip-address.ts). IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are folded
// to IPv4 on the way in: a socket sends them to the IPv4 host, so a check that saw them as IPv6
// could be walked around. Text is netip's String(): dotted IPv4, RFC 5952 IPv6.

import (
	"net/netip"
	"strings"
)

// parsePlainAddr parses an address with no brackets and no zone id, without unmapping it.
func parsePlainAddr(text string) (netip.Addr, bool) {
	// A zone id (`fe80::1%eth0`) names an interface on this host, never a remote destination.
	if strings.Contains(text, "%") {
		return netip.Addr{}, false
	}
	// netip takes an IPv6 group of more than four digits when its value fits (`00001::`); Node's
	// isIP, which the TypeScript asks, does not.
	for _, group := range strings.Split(text, ":") {
		if len(group) > 4 && !strings.Contains(group, ".") {
			return netip.Addr{}, false
		}
	}
	addr, err := netip.ParseAddr(text)
	if err != nil {
		return netip.Addr{}, false
	}
	return addr, true
}

// ParseIP parses a plain address (no brackets, no zone id). An IPv4-mapped IPv6 address is
// returned as IPv4.
func ParseIP(text string) (netip.Addr, bool) {
	addr, ok := parsePlainAddr(text)
	if !ok {
		return netip.Addr{}, false
	}
	return addr.Unmap(), true
}

var mappedRange = netip.MustParsePrefix("::ffff:0:0/96")

// ParseIPRange parses `address/prefix`, or a bare address as a range of one. Host bits are
// cleared. A range inside ::ffff:0:0/96 is folded to IPv4 (`::ffff:10.0.0.0/104` is 10.0.0.0/8),
// as addresses are; a wider IPv6 range holds no IPv4 address.
func ParseIPRange(text string) (netip.Prefix, bool) {
	parts := strings.Split(text, "/")
	if len(parts) > 2 {
		return netip.Prefix{}, false
	}
	addr, ok := parsePlainAddr(parts[0])
	if !ok {
		return netip.Prefix{}, false
	}
	bits := addr.BitLen()
	prefix := bits
	if len(parts) == 2 {
		digits := parts[1]
		if len(digits) < 1 || len(digits) > 3 || strings.Trim(digits, "0123456789") != "" {
			return netip.Prefix{}, false
		}
		prefix = 0
		for i := 0; i < len(digits); i++ {
			prefix = prefix*10 + int(digits[i]-'0')
		}
		if prefix > bits {
			return netip.Prefix{}, false
		}
	}
	r := netip.PrefixFrom(addr, prefix).Masked()
	if addr.Is6() && prefix >= 96 && mappedRange.Contains(r.Addr()) {
		return netip.PrefixFrom(r.Addr().Unmap(), prefix-96), true
	}
	return r, true
}

// rangeWithin reports whether every address of inner is also in outer.
func rangeWithin(inner, outer netip.Prefix) bool {
	return inner.Bits() >= outer.Bits() && outer.Contains(inner.Addr())
}
