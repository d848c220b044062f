package policy

// The allow-list matcher: what each entry form lets through, and the lookalikes it must not
// (2a29766:test/unit/egress/policy.test.ts).

import (
	"fmt"
	"reflect"
	"testing"
)

func policyOf(t *testing.T, entries ...string) *Policy {
	t.Helper()
	p, problems := Parse(entries)
	if problems == nil || len(problems) != 0 {
		t.Fatalf("Parse(%q) problems = %#v; want []", entries, problems)
	}
	return p
}

type matchCase struct {
	entries []string
	host    string
	port    int
	want    Match
}

func checkMatches(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		if got := policyOf(t, c.entries...).MatchHost(c.host, c.port); got != c.want {
			t.Errorf("%q: MatchHost(%q, %d) = %#v; want %#v", c.entries, c.host, c.port, got, c.want)
		}
	}
}

func allowedBy(entry string) Match {
	return Match{Allowed: true, Rule: entry, Reason: "allowed by '" + entry + "'"}
}

func noRule(host string) Match { return Match{Reason: "no rule matches " + host} }

func noAddressRule(host string) Match { return Match{Reason: "no address rule covers " + host} }

func invalidHost(raw string) Match {
	return Match{Reason: "'" + raw + "' is not a valid host name or address"}
}

func TestMatchExactNameOn443And80Only(t *testing.T) {
	checkMatches(t, []matchCase{
		{[]string{"allowed.test"}, "allowed.test", 443, allowedBy("allowed.test")},
		{[]string{"allowed.test"}, "allowed.test", 80, allowedBy("allowed.test")},
		{[]string{"allowed.test"}, "allowed.test", 8443, Match{Rule: "allowed.test", Reason: "port 8443 is not allowed for allowed.test ('allowed.test' allows 443, 80)"}},
	})
}

func TestMatchRefusesLookalikes(t *testing.T) {
	var cases []matchCase
	for _, host := range []string{"evilallowed.test", "allowed.test.evil.test", "sub.allowed.test", "allowed.tes", "allowed.testx", "xallowed.test"} {
		cases = append(cases, matchCase{[]string{"allowed.test"}, host, 443, noRule(host)})
	}
	checkMatches(t, cases)
}

func TestMatchIgnoresCaseAndOneTrailingDot(t *testing.T) {
	checkMatches(t, []matchCase{
		{[]string{"allowed.test"}, "ALLOWED.Test", 443, allowedBy("allowed.test")},
		{[]string{"allowed.test"}, "allowed.test.", 443, allowedBy("allowed.test")},
		{[]string{"Allowed.TEST."}, "allowed.test", 443, allowedBy("Allowed.TEST.")},
		{[]string{"allowed.test"}, "allowed.test..", 443, invalidHost("allowed.test..")},
	})
}

// The TypeScript compares internationalised names in their ASCII form after IDNA. Go has no IDNA:
// the ASCII form still matches itself, and a non-ASCII spelling is refused, as an entry and as a
// host.
func TestMatchInternationalisedNamesOnlyInASCIIForm(t *testing.T) {
	checkMatches(t, []matchCase{
		{[]string{"xn--bcher-kva.example"}, "xn--bcher-kva.example", 443, allowedBy("xn--bcher-kva.example")},
		{[]string{"xn--bcher-kva.example"}, "XN--BCHER-KVA.example", 443, allowedBy("xn--bcher-kva.example")},
		// TypeScript: allowed (BÜCHER.example is xn--bcher-kva.example after IDNA).
		{[]string{"xn--bcher-kva.example"}, "BÜCHER.example", 443, invalidHost("BÜCHER.example")},
		{[]string{"bucher.example"}, "bücher.example", 443, invalidHost("bücher.example")},
	})
	// TypeScript: a name rule for xn--bcher-kva.example.
	_, problems := Parse([]string{"bücher.example"})
	if want := []Problem{{Entry: "bücher.example", Message: "not a valid host name or address"}}; !reflect.DeepEqual(problems, want) {
		t.Errorf("Parse(bücher.example) problems = %#v; want %#v", problems, want)
	}
}

func TestMatchRefusesSpellingsURLParsingWouldTurnIntoAnotherHost(t *testing.T) {
	var cases []matchCase
	for _, host := range []string{"allowed.test/evil.test", "allowed.test%2f", "evil.test@allowed.test", "allowed.test:443", "a..test", "", ".", "allowed.test\x00"} {
		cases = append(cases, matchCase{[]string{"allowed.test"}, host, 443, invalidHost(host)})
	}
	checkMatches(t, cases)
}

func TestMatchWildcardAnyDepthOfSubdomain(t *testing.T) {
	checkMatches(t, []matchCase{
		{[]string{"*.github.com"}, "api.github.com", 443, allowedBy("*.github.com")},
		{[]string{"*.github.com"}, "a.b.github.com", 443, allowedBy("*.github.com")},
		{[]string{"*.github.com"}, "API.GitHub.com.", 443, allowedBy("*.github.com")},
	})
}

func TestMatchWildcardNotTheApex(t *testing.T) {
	checkMatches(t, []matchCase{
		{[]string{"*.github.com"}, "github.com", 443, noRule("github.com")},
		{[]string{"*.github.com", "github.com"}, "github.com", 443, allowedBy("github.com")},
	})
}

func TestMatchWildcardRefusesLookalikes(t *testing.T) {
	var cases []matchCase
	for _, host := range []string{"evilgithub.com", "github.com.evil.test", "githubxcom", "api.github.co", "api-github.com"} {
		cases = append(cases, matchCase{[]string{"*.github.com"}, host, 443, noRule(host)})
	}
	checkMatches(t, cases)
}

func TestMatchWildcardPorts(t *testing.T) {
	checkMatches(t, []matchCase{
		{[]string{"*.github.com:8443"}, "api.github.com", 8443, allowedBy("*.github.com:8443")},
		{[]string{"*.github.com:8443"}, "api.github.com", 443, Match{Rule: "*.github.com:8443", Reason: "port 443 is not allowed for api.github.com ('*.github.com:8443' allows 8443)"}},
	})
}

func TestMatchOnlyTheWrittenPort(t *testing.T) {
	checkMatches(t, []matchCase{
		{[]string{"db.internal:5432"}, "db.internal", 5432, allowedBy("db.internal:5432")},
		{[]string{"db.internal:5432"}, "db.internal", 443, Match{Rule: "db.internal:5432", Reason: "port 443 is not allowed for db.internal ('db.internal:5432' allows 5432)"}},
	})
}

func TestMatchCombinesEntriesForTheSameHost(t *testing.T) {
	entries := []string{"allowed.test:8443", "allowed.test"}
	checkMatches(t, []matchCase{
		{entries, "allowed.test", 8443, allowedBy("allowed.test:8443")},
		{entries, "allowed.test", 443, allowedBy("allowed.test")},
		// The first entry that matched on another port is the one reported.
		{entries, "allowed.test", 22, Match{Rule: "allowed.test:8443", Reason: "port 22 is not allowed for allowed.test ('allowed.test:8443' allows 8443)"}},
	})
}

func TestMatchIPLiteralsOnlyInsideAnAddressEntry(t *testing.T) {
	checkMatches(t, []matchCase{
		{[]string{"10.1.0.0/16"}, "10.1.2.3", 443, allowedBy("10.1.0.0/16")},
		{[]string{"10.1.0.0/16"}, "10.2.0.1", 443, noAddressRule("10.2.0.1")},
		{[]string{"10.1.0.0/16"}, "10.1.2.3", 22, Match{Rule: "10.1.0.0/16", Reason: "port 22 is not allowed for 10.1.2.3 ('10.1.0.0/16' allows 443, 80)"}},
		{[]string{"allowed.test"}, "93.184.216.34", 443, noAddressRule("93.184.216.34")},
	})
}

func TestMatchBareAddressIsARangeOfOne(t *testing.T) {
	checkMatches(t, []matchCase{
		{[]string{"10.1.2.3"}, "10.1.2.3", 443, allowedBy("10.1.2.3")},
		{[]string{"10.1.2.3"}, "10.1.2.4", 443, noAddressRule("10.1.2.4")},
		{[]string{"10.1.2.3:5432"}, "10.1.2.3", 5432, allowedBy("10.1.2.3:5432")},
		{[]string{"10.1.2.3:5432"}, "10.1.2.3", 443, Match{Rule: "10.1.2.3:5432", Reason: "port 443 is not allowed for 10.1.2.3 ('10.1.2.3:5432' allows 5432)"}},
	})
}

func TestMatchIPv6EntriesAndMappedAddresses(t *testing.T) {
	checkMatches(t, []matchCase{
		{[]string{"[2001:db8::1]:8443"}, "[2001:DB8:0::1]", 8443, allowedBy("[2001:db8::1]:8443")},
		{[]string{"[2001:db8::1]:8443"}, "2001:db8::1", 443, Match{Rule: "[2001:db8::1]:8443", Reason: "port 443 is not allowed for [2001:db8::1] ('[2001:db8::1]:8443' allows 8443)"}},
		{[]string{"fd00::/8"}, "fd12::1", 443, allowedBy("fd00::/8")},
		{[]string{"10.0.0.0/8"}, "::ffff:10.9.8.7", 443, allowedBy("10.0.0.0/8")},
		{[]string{"::ffff:10.0.0.0/104"}, "10.9.8.7", 443, allowedBy("::ffff:10.0.0.0/104")},
		// An IPv6 range holds no IPv4 address, mapped or not.
		{[]string{"::/0"}, "::ffff:10.9.8.7", 443, noAddressRule("10.9.8.7")},
		{[]string{"[::ffff:10.9.8.7]"}, "10.9.8.7", 80, allowedBy("[::ffff:10.9.8.7]")},
	})
}

func TestMatchNeverNameAgainstAddressOrAddressAgainstName(t *testing.T) {
	checkMatches(t, []matchCase{
		{[]string{"127.0.0.0/8"}, "localhost", 443, noRule("localhost")},
		{[]string{"localhost"}, "127.0.0.1", 443, noAddressRule("127.0.0.1")},
	})
}

func TestMatchRefusesNumericSpellingsOfAddresses(t *testing.T) {
	checkMatches(t, []matchCase{
		{[]string{"127.0.0.0/8"}, "127.1", 443, invalidHost("127.1")},
		{[]string{"127.0.0.0/8"}, "0x7f.0.0.1", 443, invalidHost("0x7f.0.0.1")},
		// Refused in the TypeScript because IDNA makes it 127.0.0.1; here because it is not ASCII.
		{[]string{"127.0.0.0/8"}, "１２７.０.０.１", 443, invalidHost("１２７.０.０.１")},
	})
}

func TestParseReportsEntriesItCannotRead(t *testing.T) {
	p, problems := Parse([]string{"pypi.org", "*", "foo.*.com", "*.com", "https://x.test/", "x.test:99999", "10.0.0.0/33", "a b.test", "[::1"})
	if got := p.Entries(); !reflect.DeepEqual(got, []string{"pypi.org"}) {
		t.Errorf("rules = %q; want [pypi.org]", got)
	}
	want := []Problem{
		{"*", "a wildcard may only be a leading `*.`"},
		{"foo.*.com", "a wildcard may only be a leading `*.`"},
		{"*.com", "a wildcard must cover a domain below a top-level domain (`*.example.com`, not `*.com`)"},
		{"https://x.test/", "not a valid CIDR range"},
		{"x.test:99999", "the port must be a number from 1 to 65535"},
		{"10.0.0.0/33", "not a valid CIDR range"},
		{"a b.test", "not a valid host name or address"},
		{"[::1", "an IPv6 address is written `[address]:port`"},
	}
	if !reflect.DeepEqual(problems, want) {
		t.Errorf("problems = %#v; want %#v", problems, want)
	}
}

func TestParseProblemMessages(t *testing.T) {
	for _, c := range []struct{ entry, message string }{
		{"*.10.0.0.1", "a wildcard must be `*.` followed by a domain name"},
		{"*.", "a wildcard must be `*.` followed by a domain name"},
		{"*.a..b", "a wildcard must be `*.` followed by a domain name"},
		{"*.localhost", "a wildcard must cover a domain below a top-level domain (`*.example.com`, not `*.com`)"},
		{"*.*.a.com", "a wildcard must be `*.` followed by a domain name"},
		{"*a.com", "a wildcard may only be a leading `*.`"},
		{"[::1]:0", "the port must be a number from 1 to 65535"},
		{"[::1]:", "the port must be a number from 1 to 65535"},
		{"[::1]443", "an IPv6 address is written `[address]:port`"},
		// JavaScript's `.` stops at a line break, so the bracket pattern fails on it.
		{"[::1]:44\n3", "an IPv6 address is written `[address]:port`"},
		{"a.test:", "the port must be a number from 1 to 65535"},
		{"a.test:+1", "the port must be a number from 1 to 65535"},
		{"[a.test]:443", "not a valid host name or address"},
		{"[10.0.0.1]", "not a valid host name or address"},
		{"fe80::1%eth0", "the port must be a number from 1 to 65535"},
		{"fe80::/10%eth0", "not a valid CIDR range"},
		{"a.test/8", "not a valid CIDR range"},
		{"127.1", "not a valid host name or address"},
		{"", "not a valid host name or address"},
	} {
		p, problems := Parse([]string{c.entry})
		want := []Problem{{Entry: c.entry, Message: c.message}}
		if len(p.Rules) != 0 || !reflect.DeepEqual(problems, want) {
			t.Errorf("Parse(%q) = %#v, %#v; want no rules and %#v", c.entry, p.Rules, problems, want)
		}
	}
}

func TestParseRules(t *testing.T) {
	for _, c := range []struct {
		entry string
		want  string
	}{
		{"PyPI.org.", "name pypi.org [443 80]"},
		{"pypi.org:8443", "name pypi.org [8443]"},
		{"*.GitHub.com", "wildcard github.com [443 80]"},
		{"*.github.com:22", "wildcard github.com [22]"},
		{"10.1.2.3/16", "address 10.1.0.0/16 [443 80]"},
		{"10.1.2.3", "address 10.1.2.3/32 [443 80]"},
		{"10.1.2.3:5432", "address 10.1.2.3/32 [5432]"},
		{"[2001:DB8::1]", "address 2001:db8::1/128 [443 80]"},
		{"2001:db8::1", "address 2001:db8::1/128 [443 80]"},
		{"[2001:db8::1]:443", "address 2001:db8::1/128 [443]"},
		{"::1:443", "address ::1:443/128 [443 80]"}, // an IPv6 address, not ::1 on port 443
		{"::ffff:10.0.0.0/104", "address 10.0.0.0/8 [443 80]"},
		{"[::ffff:7f00:1]:9", "address 127.0.0.1/32 [9]"},
	} {
		p, problems := Parse([]string{c.entry})
		if len(problems) != 0 || len(p.Rules) != 1 {
			t.Errorf("Parse(%q) = %#v, %#v; want one rule", c.entry, p.Rules, problems)
			continue
		}
		r := p.Rules[0]
		got := r.Kind + " " + r.Name + r.Suffix
		if r.Kind == KindAddress {
			got += r.Range.String()
		}
		got += " " + fmt.Sprint(r.Ports)
		if got != c.want || r.Entry != c.entry {
			t.Errorf("Parse(%q) = %q (entry %q); want %q", c.entry, got, r.Entry, c.want)
		}
	}
}

func TestEmptyListAllowsNothing(t *testing.T) {
	p, problems := Parse(nil)
	if problems == nil || len(problems) != 0 {
		t.Errorf("Parse(nil) problems = %#v; want an empty slice", problems)
	}
	if got := p.MatchHost("pypi.org", 443); got != noRule("pypi.org") {
		t.Errorf("MatchHost = %#v", got)
	}
	if got := DenyAll.MatchHost("pypi.org", 443); got != noRule("pypi.org") {
		t.Errorf("DenyAll.MatchHost = %#v", got)
	}
	var none *Policy
	if got := none.MatchHost("10.0.0.1", 443); got != noAddressRule("10.0.0.1") {
		t.Errorf("nil MatchHost = %#v", got)
	}
	if got := DenyAll.Entries(); got == nil || len(got) != 0 {
		t.Errorf("DenyAll.Entries() = %#v; want an empty slice", got)
	}
}

func TestAddressRules(t *testing.T) {
	p, _ := Parse([]string{"pypi.org", "10.0.0.0/8", "*.a.test", "[::1]:9"})
	var entries []string
	for _, r := range p.AddressRules() {
		entries = append(entries, r.Entry)
	}
	if !reflect.DeepEqual(entries, []string{"10.0.0.0/8", "[::1]:9"}) {
		t.Errorf("AddressRules = %q", entries)
	}
}

func TestDefaultPortsAreNotShared(t *testing.T) {
	p, _ := Parse([]string{"a.test", "b.test"})
	p.Rules[0].Ports[0] = 1
	if got := p.Rules[1].Ports; !reflect.DeepEqual(got, []int{443, 80}) {
		t.Errorf("second rule's ports = %v after changing the first's", got)
	}
	if got := DefaultPorts(); !reflect.DeepEqual(got, []int{443, 80}) {
		t.Errorf("DefaultPorts() = %v", got)
	}
}
