// Every connection the proxy let through, while it is open: who, where to, under which rule, and
// how many bytes moved. A policy reload asks each one again whether the new list still allows it
// and closes the ones it does not; the others are not touched (no pause, no re-resolution: the
// host it was allowed for and the address it is connected to are checked as they are).

package main

import (
	"sort"
	"sync"
	"sync/atomic"

	"sandboxshift.dev/egress/policy"
)

type openConnection struct {
	id        uint64
	client    string
	method    string
	host      policy.Host
	port      int
	address   string
	rule      string
	close     func()
	bytesUp   atomic.Int64
	bytesDown atomic.Int64
}

type closedOnReload struct {
	conn   *openConnection
	reason string
}

type registry struct {
	mu     sync.Mutex
	open   map[uint64]*openConnection
	nextID uint64
	stats  *liveStats
}

func newRegistry(stats *liveStats) *registry {
	return &registry{open: map[uint64]*openConnection{}, stats: stats}
}

func (r *registry) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.open)
}

// admit tracks c until release, unless refused says why the policy now in force does not allow
// it; c.close must end it (both sides). refused is asked under the registry's lock, and a reload
// stores its policy before enforce takes that lock, so no connection can be admitted under the
// old policy once enforce has asked the open ones under the new. allowed (the allow decision)
// runs before c is open, so a reload that closes c is logged after it.
func (r *registry) admit(c *openConnection, refused func() string, allowed func()) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if reason := refused(); reason != "" {
		return reason
	}
	allowed()
	r.nextID++
	c.id = r.nextID
	r.open[c.id] = c
	r.stats.opened()
	return ""
}

func (r *registry) up(c *openConnection, n int) {
	c.bytesUp.Add(int64(n))
	r.stats.bytes(int64(n), 0)
}

func (r *registry) down(c *openConnection, n int) {
	c.bytesDown.Add(int64(n))
	r.stats.bytes(0, int64(n))
}

// release is called once a connection has closed by itself; a second call does nothing.
func (r *registry) release(c *openConnection) {
	r.mu.Lock()
	_, ok := r.open[c.id]
	delete(r.open, c.id)
	r.mu.Unlock()
	if ok {
		r.stats.closed()
	}
}

// enforce closes every open connection p no longer allows and returns them with the reason.
func (r *registry) enforce(p *policy.Policy) (int, []closedOnReload) {
	var closed []closedOnReload
	r.mu.Lock()
	for id, c := range r.open {
		if reason := refusalUnder(p, c.host, c.port, c.address); reason != "" {
			closed = append(closed, closedOnReload{c, reason})
			delete(r.open, id)
		}
	}
	kept := len(r.open)
	r.mu.Unlock()
	sort.Slice(closed, func(i, j int) bool { return closed[i].conn.id < closed[j].conn.id })
	for _, entry := range closed {
		r.stats.closed()
		entry.conn.close()
	}
	return kept, closed
}

// closeAll closes everything (shutdown).
func (r *registry) closeAll() {
	r.mu.Lock()
	all := make([]*openConnection, 0, len(r.open))
	for id, c := range r.open {
		all = append(all, c)
		delete(r.open, id)
	}
	r.mu.Unlock()
	for _, c := range all {
		r.stats.closed()
		c.close()
	}
}
