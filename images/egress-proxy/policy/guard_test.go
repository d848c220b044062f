package policy

// Which addresses the proxy refuses to connect to, and which address entries lift a refusal
// (2a29766:test/unit/egress/address-guard.test.ts).

import (
	"net/netip"
	"testing"
)

func policyWith(entries ...string) *Policy {
	p, _ := Parse(entries)
	return p
}

func TestGuardRefusesWithoutAddressEntries(t *testing.T) {
	none := policyWith()
	for _, c := range []struct{ address, canonical, category, rng string }{
		{"127.0.0.1", "127.0.0.1", "loopback", "127.0.0.0/8"},
		{"127.255.255.254", "127.255.255.254", "loopback", "127.0.0.0/8"},
		{"::1", "::1", "loopback", "::1/128"},
		{"10.0.0.1", "10.0.0.1", "private", "10.0.0.0/8"},
		{"172.16.0.1", "172.16.0.1", "private", "172.16.0.0/12"},
		{"172.31.255.255", "172.31.255.255", "private", "172.16.0.0/12"},
		{"192.168.1.1", "192.168.1.1", "private", "192.168.0.0/16"},
		{"100.64.0.1", "100.64.0.1", "cgnat", "100.64.0.0/10"},
		{"100.127.255.255", "100.127.255.255", "cgnat", "100.64.0.0/10"},
		{"169.254.1.1", "169.254.1.1", "link-local", "169.254.0.0/16"},
		{"169.254.169.254", "169.254.169.254", "metadata", "169.254.169.254/32"},
		{"100.100.100.200", "100.100.100.200", "metadata", "100.100.100.200/32"},
		{"168.63.129.16", "168.63.129.16", "metadata", "168.63.129.16/32"},
		{"fd00:ec2::254", "fd00:ec2::254", "metadata", "fd00:ec2::254/128"},
		{"fe80::1", "fe80::1", "link-local", "fe80::/10"},
		{"0.0.0.0", "0.0.0.0", "unspecified", "0.0.0.0/8"},
		{"::", "::", "unspecified", "::/128"},
		{"224.0.0.1", "224.0.0.1", "multicast", "224.0.0.0/4"},
		{"ff02::1", "ff02::1", "multicast", "ff00::/8"},
		{"255.255.255.255", "255.255.255.255", "broadcast", "255.255.255.255/32"},
		{"240.0.0.1", "240.0.0.1", "reserved", "240.0.0.0/4"},
		{"fc00::1", "fc00::1", "unique-local", "fc00::/7"},
		{"fd12:3456::1", "fd12:3456::1", "unique-local", "fc00::/7"},
		{"::ffff:127.0.0.1", "127.0.0.1", "loopback", "127.0.0.0/8"},
		{"::ffff:169.254.169.254", "169.254.169.254", "metadata", "169.254.169.254/32"},
		{"::FFFF:10.0.0.1", "10.0.0.1", "private", "10.0.0.0/8"},
		{"::ffff:a00:1", "10.0.0.1", "private", "10.0.0.0/8"},
		{"::7f00:1", "::7f00:1", "reserved", "::/96"},
		{"64:ff9b:1::1", "64:ff9b:1::1", "private", "64:ff9b:1::/48"},
		{"100::1", "100::1", "reserved", "100::/64"},
		{"fec0::1", "fec0::1", "site-local", "fec0::/10"},
		{"192.0.0.8", "192.0.0.8", "reserved", "192.0.0.0/24"},
		{"198.19.0.1", "198.19.0.1", "reserved", "198.18.0.0/15"},
	} {
		want := Verdict{Address: c.canonical, Category: c.category, Reason: c.canonical + " is " + c.category + " (" + c.rng + ") and no address entry inside that range allows it"}
		if got := none.GuardAddress(c.address); got != want {
			t.Errorf("GuardAddress(%q) = %#v; want %#v", c.address, got, want)
		}
	}
}

func TestGuardNeverOpensEmbeddedForbiddenIPv4(t *testing.T) {
	for _, c := range []struct {
		entries                            []string
		address, canonical, category, text string
	}{
		{nil, "64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe", "metadata", "64:ff9b::/96 embedding 169.254.169.254/32"},
		{nil, "2002:7f00:1::", "2002:7f00:1::", "loopback", "2002::/16 embedding 127.0.0.0/8"},
		{nil, "2002:a9fe:a9fe::1", "2002:a9fe:a9fe::1", "metadata", "2002::/16 embedding 169.254.169.254/32"},
		{nil, "64:ff9b::10.1.2.3", "64:ff9b::a01:203", "private", "64:ff9b::/96 embedding 10.0.0.0/8"},
		{[]string{"64:ff9b::/96", "127.0.0.0/8"}, "64:ff9b::7f00:1", "64:ff9b::7f00:1", "loopback", "64:ff9b::/96 embedding 127.0.0.0/8"},
		{[]string{"64:ff9b::7f00:1"}, "64:ff9b::7f00:1", "64:ff9b::7f00:1", "loopback", "64:ff9b::/96 embedding 127.0.0.0/8"},
	} {
		want := Verdict{Address: c.canonical, Category: c.category, Reason: c.canonical + " is " + c.category + " (" + c.text + "); no entry can allow it"}
		if got := policyWith(c.entries...).GuardAddress(c.address); got != want {
			t.Errorf("%q: GuardAddress(%q) = %#v; want %#v", c.entries, c.address, got, want)
		}
	}
}

func TestGuardAllowsPublicAddresses(t *testing.T) {
	for _, c := range []struct{ address, canonical string }{
		{"93.184.216.34", "93.184.216.34"},
		{"8.8.8.8", "8.8.8.8"},
		{"172.32.0.1", "172.32.0.1"},
		{"100.128.0.1", "100.128.0.1"},
		{"2606:4700::1111", "2606:4700::1111"},
		{"::ffff:8.8.8.8", "8.8.8.8"},
		{"64:ff9b::808:808", "64:ff9b::808:808"},
		{"2002:808:808::1", "2002:808:808::1"},
	} {
		want := Verdict{Allowed: true, Address: c.canonical, Reason: "public address"}
		if got := policyWith().GuardAddress(c.address); got != want {
			t.Errorf("GuardAddress(%q) = %#v; want %#v", c.address, got, want)
		}
	}
}

func TestGuardRefusesWhatIsNotAnAddress(t *testing.T) {
	for _, address := range []string{"localhost", "fe80::1%eth0", "", "[::1]", "127.1", "00001::"} {
		want := Verdict{Address: address, Reason: "'" + address + "' is not an IP address"}
		if got := policyWith().GuardAddress(address); got != want {
			t.Errorf("GuardAddress(%q) = %#v; want %#v", address, got, want)
		}
	}
}

func TestGuardReportsTheCanonicalAddress(t *testing.T) {
	for _, c := range []struct{ address, canonical string }{
		{"::ffff:7f00:1", "127.0.0.1"},
		{"2606:4700:0:0:0:0:0:1111", "2606:4700::1111"},
		{"2606:4700:0:0:1:0:0:1111", "2606:4700::1:0:0:1111"},
		{"FE80:0::1", "fe80::1"},
	} {
		if got := policyWith().GuardAddress(c.address).Address; got != c.canonical {
			t.Errorf("GuardAddress(%q).Address = %q; want %q", c.address, got, c.canonical)
		}
	}
}

func TestGuardEntriesInsideAForbiddenRangeOpenIt(t *testing.T) {
	opened := func(category, entry string) Verdict {
		return Verdict{Allowed: true, Category: category, Rule: entry, Reason: category + " address allowed by '" + entry + "'"}
	}
	for _, c := range []struct {
		entries []string
		address string
		want    Verdict
	}{
		{[]string{"127.0.0.0/8"}, "127.0.0.1", opened("loopback", "127.0.0.0/8")},
		{[]string{"10.1.0.0/16"}, "10.1.2.3", opened("private", "10.1.0.0/16")},
		{[]string{"::1"}, "::1", opened("loopback", "::1")},
		{[]string{"127.0.0.0/8"}, "::ffff:127.0.0.1", opened("loopback", "127.0.0.0/8")},
		{[]string{"169.254.0.0/16"}, "169.254.1.1", opened("link-local", "169.254.0.0/16")},
		{[]string{"169.254.169.254"}, "169.254.169.254", opened("metadata", "169.254.169.254")},
		// Ports do not matter here: MatchHost has checked them.
		{[]string{"10.1.2.3:5432"}, "10.1.2.3", opened("private", "10.1.2.3:5432")},
		// The first entry that lies inside every range hit opens it.
		{[]string{"0.0.0.0/0", "10.0.0.0/7", "10.0.0.0/8", "10.1.0.0/16"}, "10.1.2.3", opened("private", "10.0.0.0/8")},
	} {
		p := policyWith(c.entries...)
		got := p.GuardAddress(c.address)
		c.want.Address = got.Address
		if got != c.want {
			t.Errorf("%q: GuardAddress(%q) = %#v; want %#v", c.entries, c.address, got, c.want)
		}
	}
}

func TestGuardEntriesOutsideOrWiderDoNotOpen(t *testing.T) {
	for _, c := range []struct {
		entries                 []string
		address, category, text string
	}{
		{[]string{"10.1.0.0/16"}, "10.2.0.1", "private", "10.0.0.0/8"},
		{[]string{"0.0.0.0/0"}, "10.0.0.1", "private", "10.0.0.0/8"},
		{[]string{"0.0.0.0/0"}, "127.0.0.1", "loopback", "127.0.0.0/8"},
		{[]string{"10.0.0.0/7"}, "10.0.0.1", "private", "10.0.0.0/8"},
		{[]string{"::/0"}, "fd00::1", "unique-local", "fc00::/7"},
		// Opening link-local is not enough for the metadata address: it must be named.
		{[]string{"169.254.0.0/16"}, "169.254.169.254", "metadata", "169.254.169.254/32"},
		{[]string{"fd00::/8"}, "fd00:ec2::254", "metadata", "fd00:ec2::254/128"},
		// Name entries never open an address.
		{[]string{"localhost", "*.internal.test"}, "127.0.0.1", "loopback", "127.0.0.0/8"},
		// An IPv6 range holds no IPv4 address.
		{[]string{"::/0", "::ffff:0:0/95"}, "10.0.0.1", "private", "10.0.0.0/8"},
	} {
		p := policyWith(c.entries...)
		ip, _ := ParseIP(c.address)
		canonical := ip.String()
		want := Verdict{Address: canonical, Category: c.category, Reason: canonical + " is " + c.category + " (" + c.text + ") and no address entry inside that range allows it"}
		if got := p.GuardAddress(c.address); got != want {
			t.Errorf("%q: GuardAddress(%q) = %#v; want %#v", c.entries, c.address, got, want)
		}
	}
}

func TestGuardNilPolicyHasNoAddressEntries(t *testing.T) {
	var none *Policy
	if got := none.GuardAddress("10.0.0.1"); got.Allowed || got.Category != "private" {
		t.Errorf("nil GuardAddress = %#v", got)
	}
	if got := DenyAll.GuardAddress("8.8.8.8"); !got.Allowed {
		t.Errorf("DenyAll.GuardAddress(8.8.8.8) = %#v", got)
	}
}

func TestForbiddenRangesOfNarrowestLast(t *testing.T) {
	for _, c := range []struct {
		address string
		texts   []string
	}{
		{"169.254.169.254", []string{"169.254.0.0/16", "169.254.169.254/32"}},
		{"::ffff:169.254.169.254", []string{"169.254.0.0/16", "169.254.169.254/32"}},
		{"::", []string{"::/96", "::/128"}},
		{"fd00:ec2::254", []string{"fc00::/7", "fd00:ec2::254/128"}},
		{"64:ff9b::a9fe:a9fe", []string{"64:ff9b::/96 embedding 169.254.0.0/16", "64:ff9b::/96 embedding 169.254.169.254/32"}},
		{"8.8.8.8", nil},
	} {
		addr := netip.MustParseAddr(c.address)
		hits := ForbiddenRangesOf(addr)
		var texts []string
		for _, h := range hits {
			texts = append(texts, h.Text)
		}
		if len(texts) != len(c.texts) {
			t.Errorf("ForbiddenRangesOf(%s) = %q; want %q", c.address, texts, c.texts)
			continue
		}
		for i := range texts {
			if texts[i] != c.texts[i] {
				t.Errorf("ForbiddenRangesOf(%s) = %q; want %q", c.address, texts, c.texts)
				break
			}
		}
	}
	if n := len(ForbiddenRanges()); n != 25 {
		t.Errorf("ForbiddenRanges() has %d entries; want 25", n)
	}
}
