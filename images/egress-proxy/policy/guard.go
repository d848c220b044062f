package policy

// Addresses a sandbox must not reach even through an allowed name (address-guard.ts): the host
// itself, the Docker and company networks, and cloud metadata services that hand out credentials.
// A DNS answer is attacker-controlled (anyone can point `x.evil.com` at 169.254.169.254), so every
// resolved address passes through here, not just IP literals.
//
// An address entry in the policy lifts the refusal only when the entry lies entirely inside the
// forbidden range it hits: `10.1.0.0/16` opens 10.1.x.x, `169.254.169.254/32` opens the metadata
// service, but `0.0.0.0/0` or `10.0.0.0/7` open nothing private. Opening a forbidden place takes
// naming it.

import (
	"fmt"
	"net/netip"
	"sort"
)

// Address categories.
const (
	CategoryUnspecified = "unspecified"
	CategoryLoopback    = "loopback"
	CategoryPrivate     = "private"
	CategoryCGNAT       = "cgnat"
	CategoryLinkLocal   = "link-local"
	CategoryMetadata    = "metadata"
	CategoryMulticast   = "multicast"
	CategoryBroadcast   = "broadcast"
	CategoryReserved    = "reserved"
	CategoryUniqueLocal = "unique-local"
	CategorySiteLocal   = "site-local"
)

// ForbiddenRange is a range no address may be in unless an address entry inside it allows it.
type ForbiddenRange struct {
	Text     string
	Range    netip.Prefix
	Category string
	// Exemptable is false for IPv6 forms that embed a forbidden IPv4 address: no policy entry can
	// open those.
	Exemptable bool
}

// Verdict is the answer to "may the proxy connect to this address?".
type Verdict struct {
	Allowed bool `json:"allowed"`
	// Address is the canonical form of the address checked, or the text as given when it is not
	// an address.
	Address string `json:"address"`
	// Category is the narrowest forbidden range's category; empty for a public address.
	Category string `json:"category,omitempty"`
	// Rule is the address entry that opened a forbidden range.
	Rule   string `json:"rule,omitempty"`
	Reason string `json:"reason"`
}

var forbiddenTable = []struct{ text, category string }{
	{"0.0.0.0/8", CategoryUnspecified}, // Linux connects 0.0.0.0 to the local host
	{"10.0.0.0/8", CategoryPrivate},
	{"100.64.0.0/10", CategoryCGNAT},
	{"100.100.100.200/32", CategoryMetadata}, // Alibaba Cloud
	{"127.0.0.0/8", CategoryLoopback},
	{"168.63.129.16/32", CategoryMetadata}, // Azure wire server: a public address that only the host answers
	{"169.254.0.0/16", CategoryLinkLocal},
	{"169.254.169.254/32", CategoryMetadata}, // AWS, GCP, Azure, OpenStack
	{"172.16.0.0/12", CategoryPrivate},
	{"192.0.0.0/24", CategoryReserved},
	{"192.168.0.0/16", CategoryPrivate},
	{"198.18.0.0/15", CategoryReserved},
	{"224.0.0.0/4", CategoryMulticast},
	{"240.0.0.0/4", CategoryReserved},
	{"255.255.255.255/32", CategoryBroadcast},
	{"::/128", CategoryUnspecified},
	{"::1/128", CategoryLoopback},
	{"::/96", CategoryReserved},         // IPv4-compatible, deprecated
	{"64:ff9b:1::/48", CategoryPrivate}, // local-use NAT64
	{"100::/64", CategoryReserved},      // discard-only
	{"fc00::/7", CategoryUniqueLocal},
	{"fd00:ec2::254/128", CategoryMetadata}, // AWS over IPv6
	{"fe80::/10", CategoryLinkLocal},
	{"fec0::/10", CategorySiteLocal},
	{"ff00::/8", CategoryMulticast},
}

var forbiddenRanges = func() []ForbiddenRange {
	ranges := make([]ForbiddenRange, len(forbiddenTable))
	for i, row := range forbiddenTable {
		ranges[i] = ForbiddenRange{Text: row.text, Range: mustRange(row.text), Category: row.category, Exemptable: true}
	}
	return ranges
}()

// embeddings are IPv6 ranges that carry an IPv4 address in their low bits and are routed to it by
// a gateway.
var embeddings = []struct {
	text    string
	rng     netip.Prefix
	extract func(a16 [16]byte) netip.Addr
}{
	{"64:ff9b::/96", mustRange("64:ff9b::/96"), func(b [16]byte) netip.Addr { return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}) }}, // NAT64
	{"2002::/16", mustRange("2002::/16"), func(b [16]byte) netip.Addr { return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}) }},           // 6to4
}

// ForbiddenRanges returns the table of forbidden ranges, in order.
func ForbiddenRanges() []ForbiddenRange {
	return append([]ForbiddenRange(nil), forbiddenRanges...)
}

// ForbiddenRangesOf returns every forbidden range addr is in, narrowest last; empty for an
// ordinary public address. An IPv4-mapped IPv6 address is checked as IPv4.
func ForbiddenRangesOf(addr netip.Addr) []ForbiddenRange {
	hits := []ForbiddenRange{}
	if !addr.IsValid() {
		return hits
	}
	addr = addr.WithZone("").Unmap()
	for _, f := range forbiddenRanges {
		if f.Range.Contains(addr) {
			hits = append(hits, f)
		}
	}
	for _, e := range embeddings {
		if !e.rng.Contains(addr) {
			continue
		}
		for _, f := range ForbiddenRangesOf(e.extract(addr.As16())) {
			f.Text = e.text + " embedding " + f.Text
			f.Exemptable = false
			hits = append(hits, f)
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Range.Bits() < hits[j].Range.Bits() })
	return hits
}

// GuardAddress decides whether the proxy may connect to address under this policy. Text that is
// not an address (or carries a zone id) is refused. A nil policy has no address entries.
func (p *Policy) GuardAddress(address string) Verdict {
	ip, ok := ParseIP(address)
	if !ok {
		return Verdict{Address: address, Reason: fmt.Sprintf("'%s' is not an IP address", address)}
	}
	canonical := ip.String()
	hits := ForbiddenRangesOf(ip)
	if len(hits) == 0 {
		return Verdict{Allowed: true, Address: canonical, Reason: "public address"}
	}
	narrowest := hits[len(hits)-1]
	refused := func(why string) Verdict {
		return Verdict{Address: canonical, Category: narrowest.Category, Reason: why}
	}
	for _, hit := range hits {
		if !hit.Exemptable {
			return refused(fmt.Sprintf("%s is %s (%s); no entry can allow it", canonical, narrowest.Category, narrowest.Text))
		}
	}
	for _, rule := range p.AddressRules() {
		if !rule.Range.Contains(ip) {
			continue
		}
		inside := true
		for _, hit := range hits {
			if !rangeWithin(rule.Range, hit.Range) {
				inside = false
				break
			}
		}
		if inside {
			return Verdict{Allowed: true, Address: canonical, Category: narrowest.Category, Rule: rule.Entry, Reason: fmt.Sprintf("%s address allowed by '%s'", narrowest.Category, rule.Entry)}
		}
	}
	return refused(fmt.Sprintf("%s is %s (%s) and no address entry inside that range allows it", canonical, narrowest.Category, narrowest.Text))
}

func mustRange(text string) netip.Prefix {
	r, ok := ParseIPRange(text)
	if !ok {
		panic("bad built-in range " + text)
	}
	return r
}
