// The one check both proxy paths run before opening anything: policy first (a denied name is
// never even resolved, so DNS cannot be used to signal out), then resolution, then every
// resolved address through the guard. One forbidden address refuses the lot: the client does not
// get to pick which answer it is connected to.

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"sandboxshift.dev/egress/policy"
)

type destinationCheck struct {
	ok        bool
	hasHost   bool
	host      policy.Host
	status    int // when !ok: 400, 403, 502 or 504
	rule      string
	reason    string
	addresses []string
	resolved  []string
}

func checkDestination(p *policy.Policy, rawHost string, port int, resolve Resolver, timeout time.Duration) destinationCheck {
	host, ok := policy.NormalizeHost(rawHost)
	if !ok {
		return destinationCheck{status: 400, reason: "not a valid host name or address"}
	}
	match := p.MatchHost(host.Text(), port)
	if !match.Allowed || match.Rule == "" {
		return destinationCheck{hasHost: true, host: host, status: 403, rule: match.Rule, reason: match.Reason}
	}
	fail := func(status int, reason string, resolved []string) destinationCheck {
		return destinationCheck{hasHost: true, host: host, status: status, rule: match.Rule, reason: reason, resolved: resolved}
	}

	var addresses, resolved []string
	if host.IsIP {
		addresses = []string{host.Addr.String()}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		answers, err := resolve(ctx, host.Name)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fail(504, fmt.Sprintf("could not resolve %s: resolving %s timed out after %d ms", host.Name, host.Name, timeout.Milliseconds()), nil)
			}
			return fail(502, fmt.Sprintf("could not resolve %s: %s", host.Name, err), nil)
		}
		seen := map[string]bool{}
		resolved = []string{}
		for _, answer := range answers {
			ip, ok := policy.ParseIP(answer)
			if !ok {
				return fail(502, fmt.Sprintf("resolver returned something that is not an address for %s", host.Name), nil)
			}
			text := ip.String()
			if !seen[text] {
				seen[text] = true
				resolved = append(resolved, text)
			}
		}
		if len(resolved) == 0 {
			return fail(502, fmt.Sprintf("%s resolved to no addresses", host.Name), resolved)
		}
		addresses = resolved
	}

	for _, address := range addresses {
		verdict := p.GuardAddress(address)
		if !verdict.Allowed {
			reason := verdict.Reason
			if !host.IsIP {
				reason = host.Name + " resolves to " + verdict.Reason
			}
			return fail(403, reason, resolved)
		}
	}
	return destinationCheck{ok: true, hasHost: true, host: host, rule: match.Rule, reason: match.Reason, addresses: addresses, resolved: resolved}
}

// refusalUnder says why p refuses a connection already open to host:port at address, or "" when it still allows it.
func refusalUnder(p *policy.Policy, host policy.Host, port int, address string) string {
	match := p.MatchHost(host.Text(), port)
	if !match.Allowed {
		return match.Reason
	}
	verdict := p.GuardAddress(address)
	if !verdict.Allowed {
		if host.IsIP {
			return verdict.Reason
		}
		return host.Text() + " is connected to " + verdict.Reason
	}
	return ""
}

// connectChecked connects to the first checked address that answers, counting the wait as an
// open connection; on failure it gives the status to answer: 504 when every attempt timed out, else 502.
func (p *proxy) connectChecked(check destinationCheck, port int) (net.Conn, string, int, error) {
	p.stats.waiting(1)
	defer p.stats.waiting(-1)
	conn, address, err := connectFirst(p.dial, check.addresses, port, p.timeout)
	if err != nil {
		if _, ok := err.(*timeoutError); ok {
			return nil, "", 504, err
		}
		return nil, "", 502, err
	}
	return conn, address, 0, nil
}
