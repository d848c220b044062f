package policy

// The allow list as data, and the question the proxy asks of it: may this host and port be
// reached? (policy.ts)
//
// Entry forms (the same ones config/egress-entry.ts accepts):
//
//	pypi.org            that name exactly
//	*.github.com        any name ending in `.github.com` (api.github.com, a.b.github.com), compared
//	                    label by label so `evilgithub.com` never matches. The apex `github.com` is
//	                    NOT matched: list it separately. Leaving the apex out is what DNS wildcards
//	                    do, and it keeps "every subdomain" from silently meaning "the site as well".
//	host:8443           a name (or IPv4 address) on that port only
//	[2001:db8::1]:443   an IPv6 address on that port only
//	10.1.0.0/16, 10.1.2.3, fd00::/8
//	                    addresses: lets a client connect to IP literals in the range, and lets names
//	                    resolve into the range even when it is private (see guard.go)
//
// Without a port an entry allows 443 and 80 only. Entries that are none of these are reported as
// problems and allow nothing.

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Rule kinds.
const (
	KindName     = "name"
	KindWildcard = "wildcard"
	KindAddress  = "address"
)

// defaultPorts are the ports an entry without one allows.
var defaultPorts = []int{443, 80}

// DefaultPorts returns the ports an entry written without a port allows: 443 and 80.
func DefaultPorts() []int {
	return append([]int(nil), defaultPorts...)
}

// Rule is one usable entry of the allow list.
type Rule struct {
	// Kind is KindName, KindWildcard or KindAddress.
	Kind string
	// Entry is the entry as written.
	Entry string
	// Name is the normalised name, for KindName.
	Name string
	// Suffix is the normalised name after `*.`, for KindWildcard.
	Suffix string
	// Range is the address range, host bits cleared, for KindAddress.
	Range netip.Prefix
	// Ports are the ports allowed, in the order shown in reasons.
	Ports []int
}

// Policy is a parsed allow list. Treat it as read-only.
type Policy struct {
	Rules []Rule
}

// DenyAll is the policy that allows nothing.
var DenyAll = &Policy{}

// Problem is an entry that could not be read; it allows nothing.
type Problem struct {
	Entry   string `json:"entry"`
	Message string `json:"message"`
}

// Match is the answer to "may this host and port be reached?".
type Match struct {
	Allowed bool `json:"allowed"`
	// Rule is the entry, as written, that allowed the host, or that matched it on another port;
	// empty when none did.
	Rule   string `json:"rule,omitempty"`
	Reason string `json:"reason"`
}

// Parse reads an allow list. Entries it cannot read are returned as problems (never nil) and
// allow nothing.
func Parse(entries []string) (*Policy, []Problem) {
	rules := []Rule{}
	problems := []Problem{}
	for _, entry := range entries {
		rule, problem := parseEntry(entry)
		if problem != "" {
			problems = append(problems, Problem{Entry: entry, Message: problem})
		} else {
			rules = append(rules, rule)
		}
	}
	return &Policy{Rules: rules}, problems
}

// Entries returns the rules' entries as written, in order.
func (p *Policy) Entries() []string {
	entries := []string{}
	if p == nil {
		return entries
	}
	for _, rule := range p.Rules {
		entries = append(entries, rule.Entry)
	}
	return entries
}

// MatchHost decides whether rawHost (a name or IP literal, as a client wrote it) may be reached
// on port. A nil policy allows nothing.
func (p *Policy) MatchHost(rawHost string, port int) Match {
	host, ok := NormalizeHost(rawHost)
	if !ok {
		return Match{Reason: fmt.Sprintf("'%s' is not a valid host name or address", rawHost)}
	}
	var otherPort *Rule
	if p != nil {
		for i := range p.Rules {
			rule := &p.Rules[i]
			if !ruleCoversHost(rule, host) {
				continue
			}
			if containsPort(rule.Ports, port) {
				return Match{Allowed: true, Rule: rule.Entry, Reason: fmt.Sprintf("allowed by '%s'", rule.Entry)}
			}
			if otherPort == nil {
				otherPort = rule
			}
		}
	}
	text := host.Text()
	if otherPort != nil {
		return Match{Rule: otherPort.Entry, Reason: fmt.Sprintf("port %d is not allowed for %s ('%s' allows %s)", port, text, otherPort.Entry, joinPorts(otherPort.Ports))}
	}
	if host.IsIP {
		return Match{Reason: "no address rule covers " + text}
	}
	return Match{Reason: "no rule matches " + text}
}

// AddressRules returns the address entries: the only way to reach an IP literal, or a name
// resolving to a private address.
func (p *Policy) AddressRules() []Rule {
	rules := []Rule{}
	if p == nil {
		return rules
	}
	for _, rule := range p.Rules {
		if rule.Kind == KindAddress {
			rules = append(rules, rule)
		}
	}
	return rules
}

func ruleCoversHost(rule *Rule, host Host) bool {
	switch rule.Kind {
	case KindName:
		return !host.IsIP && host.Name == rule.Name
	case KindWildcard:
		return !host.IsIP && strings.HasSuffix(host.Name, "."+rule.Suffix)
	case KindAddress:
		return host.IsIP && rule.Range.Contains(host.Addr)
	}
	return false
}

func containsPort(ports []int, port int) bool {
	for _, p := range ports {
		if p == port {
			return true
		}
	}
	return false
}

func joinPorts(ports []int) string {
	texts := make([]string, len(ports))
	for i, p := range ports {
		texts[i] = strconv.Itoa(p)
	}
	return strings.Join(texts, ", ")
}

// parseEntry returns the rule, or the problem with the entry when it is not one.
func parseEntry(entry string) (Rule, string) {
	if strings.Contains(entry, "/") {
		r, ok := ParseIPRange(entry)
		if !ok {
			return Rule{}, "not a valid CIDR range"
		}
		return Rule{Kind: KindAddress, Entry: entry, Range: r, Ports: DefaultPorts()}, ""
	}
	if bare, ok := NormalizeHost(entry); ok && bare.IsIP {
		return Rule{Kind: KindAddress, Entry: entry, Range: exactRange(bare), Ports: DefaultPorts()}, ""
	}

	hostText, port, hasPort, problem := splitPort(entry)
	if problem != "" {
		return Rule{}, problem
	}
	ports := DefaultPorts()
	if hasPort {
		ports = []int{port}
	}

	if strings.HasPrefix(hostText, "*.") {
		suffix, ok := NormalizeHost(hostText[2:])
		if !ok || suffix.IsIP {
			return Rule{}, "a wildcard must be `*.` followed by a domain name"
		}
		if !strings.Contains(suffix.Name, ".") {
			return Rule{}, "a wildcard must cover a domain below a top-level domain (`*.example.com`, not `*.com`)"
		}
		return Rule{Kind: KindWildcard, Entry: entry, Suffix: suffix.Name, Ports: ports}, ""
	}
	if strings.Contains(hostText, "*") {
		return Rule{}, "a wildcard may only be a leading `*.`"
	}
	host, ok := NormalizeHost(hostText)
	if !ok {
		return Rule{}, "not a valid host name or address"
	}
	if host.IsIP {
		return Rule{Kind: KindAddress, Entry: entry, Range: exactRange(host), Ports: ports}, ""
	}
	return Rule{Kind: KindName, Entry: entry, Name: host.Name, Ports: ports}, ""
}

// bracketedEntry is the TypeScript /^\[([^\]]*)\](?::(.*))?$/: its `.` stops at the line
// terminators JavaScript knows, so those are spelled out here.
var bracketedEntry = regexp.MustCompile(`^\[([^\]]*)\](?::([^\n\r\x{2028}\x{2029}]*))?$`)

const portProblem = "the port must be a number from 1 to 65535"

func splitPort(entry string) (host string, port int, hasPort bool, problem string) {
	if strings.HasPrefix(entry, "[") {
		m := bracketedEntry.FindStringSubmatchIndex(entry)
		if m == nil {
			return "", 0, false, "an IPv6 address is written `[address]:port`"
		}
		host = "[" + entry[m[2]:m[3]] + "]"
		if m[4] < 0 {
			return host, 0, false, ""
		}
		port, ok := ParsePort(entry[m[4]:m[5]])
		if !ok {
			return "", 0, false, portProblem
		}
		return host, port, true, ""
	}
	colon := strings.LastIndexByte(entry, ':')
	if colon < 0 {
		return entry, 0, false, ""
	}
	port, ok := ParsePort(entry[colon+1:])
	if !ok {
		return "", 0, false, portProblem
	}
	return entry[:colon], port, true, ""
}

func exactRange(host Host) netip.Prefix {
	return netip.PrefixFrom(host.Addr, host.Addr.BitLen())
}
