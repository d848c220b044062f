// The proxy resolves names itself and connects to the addresses it checked, so a DNS answer that
// changes between check and connect (rebinding) has nothing to change.

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// Resolver returns every address a name resolves to.
type Resolver func(ctx context.Context, name string) ([]string, error)

// systemResolver looks a name up exactly as allowed, never with the search domains of the
// container's resolv.conf (which Docker copies from the host): a name that does not exist must
// not become NAME.corp.example, a host nobody allowed. A rooted name is not searched.
func systemResolver(ctx context.Context, name string) ([]string, error) {
	answers, err := net.DefaultResolver.LookupHost(ctx, rootedName(name))
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.Name != name {
		named := *dnsErr
		named.Name = name // the name as the client asked, in the 502's reason
		return nil, &named
	}
	return answers, err
}

// rootedName is name with the root's trailing dot.
func rootedName(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}

// timeoutError is a wait that ran out of time (answered 504, not 502).
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string { return e.msg }

type cached struct {
	at      time.Time
	done    chan struct{}
	answers []string
	err     error
}

// cachingResolver remembers each name's answer for ttl, so a client opening many connections to
// one host does not pay a lookup each time (a query through Docker's DNS costs about a
// millisecond). Safe for the checks: every cached address still goes through the guard under the
// policy of the moment, and the proxy connects to exactly what was checked. Lookups of one name
// at once share one query; failures are not remembered.
func cachingResolver(resolve Resolver, ttl time.Duration, maxNames int) Resolver {
	var mu sync.Mutex
	cache := map[string]*cached{}
	return func(ctx context.Context, name string) ([]string, error) {
		now := time.Now()
		mu.Lock()
		hit := cache[name]
		if hit == nil || now.Sub(hit.at) >= ttl {
			if len(cache) >= maxNames {
				cache = map[string]*cached{}
			}
			hit = &cached{at: now, done: make(chan struct{})}
			cache[name] = hit
			mu.Unlock()
			// The query is not tied to one request's wait: others may be sharing it.
			go func(entry *cached) {
				lookup, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				entry.answers, entry.err = resolve(lookup, name)
				cancel()
				if entry.err != nil {
					mu.Lock()
					if cache[name] == entry {
						delete(cache, name)
					}
					mu.Unlock()
				}
				close(entry.done)
			}(hit)
		} else {
			mu.Unlock()
		}
		select {
		case <-hit.done:
			return hit.answers, hit.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Dialer opens a TCP connection to a checked address; injectable so tests see where the proxy connects.
type Dialer func(address string, port int, timeout time.Duration) (net.Conn, error)

func tcpDialer(address string, port int, timeout time.Duration) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(address, fmt.Sprint(port)), timeout)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return nil, &timeoutError{fmt.Sprintf("connecting to %s port %d timed out after %d ms", address, port, timeout.Milliseconds())}
		}
		return nil, err
	}
	return conn, nil
}

// connectFirst tries the checked addresses in order (an IPv6 answer may be unroutable in the container).
func connectFirst(dial Dialer, addresses []string, port int, timeout time.Duration) (net.Conn, string, error) {
	var failures []error
	allTimeouts := true
	for _, address := range addresses {
		conn, err := dial(address, port, timeout)
		if err == nil {
			return conn, address, nil
		}
		failures = append(failures, err)
		if _, ok := err.(*timeoutError); !ok {
			allTimeouts = false
		}
	}
	text := "no addresses to try"
	for i, err := range failures {
		if i == 0 {
			text = err.Error()
		} else {
			text += "; " + err.Error()
		}
	}
	if allTimeouts && len(failures) > 0 {
		return nil, "", &timeoutError{text}
	}
	return nil, "", fmt.Errorf("%s", text)
}
