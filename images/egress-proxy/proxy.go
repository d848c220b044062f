// The egress proxy: a sandbox's only way out. It answers CONNECT with checked tunnels, forwards
// absolute-form http:// requests, and refuses everything else. Any error on a path ends in a
// refusal or a closed connection, never in bytes sent somewhere unchecked.

package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"sandboxshift.dev/egress/policy"
)

// maxHeaderBytes bounds a request's line and headers (Node's http server allows 16 KiB).
const maxHeaderBytes = 16 * 1024

// Node's http server, which the TS proxy ran on, closed a connection whose request head had not
// all arrived within headersTimeout (60 s: a deny logged as `malformed request: Request timeout`
// and a 400) and one idle between requests for keepAliveTimeout (5 s, silently). Without them a
// client that never finishes a head, or never sends one, holds its connection for ever.
const (
	defaultHeadTimeout = 60 * time.Second
	defaultIdleTimeout = 5 * time.Second
)

type proxyOptions struct {
	policy         *policy.Policy
	log            func(string)
	connectTimeout time.Duration
	helloTimeout   time.Duration
	headTimeout    time.Duration // 0: defaultHeadTimeout
	idleTimeout    time.Duration // 0: defaultIdleTimeout
	resolve        Resolver      // nil: the system resolver, answers kept 5 s
	dial           Dialer        // nil: TCP to the checked address
	stats          *liveStats
}

type proxy struct {
	policy   atomic.Pointer[policy.Policy]
	log      func(string)
	resolve  Resolver
	dial     Dialer
	timeout  time.Duration
	hello    time.Duration
	head     time.Duration
	idle     time.Duration
	stats    *liveStats
	conns    *registry
	mu       sync.Mutex
	clients  map[net.Conn]struct{}
	listener net.Listener
	closing  bool
}

func newProxy(o proxyOptions) *proxy {
	p := &proxy{log: o.log, resolve: o.resolve, dial: o.dial, timeout: o.connectTimeout, hello: o.helloTimeout, head: o.headTimeout, idle: o.idleTimeout, stats: o.stats, clients: map[net.Conn]struct{}{}}
	if p.head == 0 {
		p.head = defaultHeadTimeout
	}
	if p.idle == 0 {
		p.idle = defaultIdleTimeout
	}
	if p.stats == nil {
		p.stats = newLiveStats("")
	}
	if p.resolve == nil {
		p.resolve = cachingResolver(systemResolver, 5*time.Second, 1024)
	}
	if p.dial == nil {
		p.dial = tcpDialer
	}
	if p.hello == 0 {
		p.hello = 10 * time.Second
	}
	p.conns = newRegistry(p.stats)
	p.policy.Store(o.policy)
	return p
}

// serve accepts until the listener is closed.
func (p *proxy) serve(ln net.Listener) error {
	p.mu.Lock()
	p.listener = ln
	// shutdown may have run before this goroutine did: it had no listener to close then.
	closing := p.closing
	p.mu.Unlock()
	if closing {
		ln.Close()
		return nil
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			p.mu.Lock()
			closing := p.closing
			p.mu.Unlock()
			if closing || errors.Is(err, net.ErrClosed) {
				return nil
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and the like: do not spin
			continue
		}
		if !p.track(conn) {
			conn.Close()
			continue
		}
		go p.handleClient(conn)
	}
}

func (p *proxy) track(conn net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.clients[conn] = struct{}{}
	return true
}

func (p *proxy) untrack(conn net.Conn) {
	p.mu.Lock()
	delete(p.clients, conn)
	p.mu.Unlock()
}

func (p *proxy) record(d Decision) {
	p.log(decisionLine(d, time.Now()))
	p.stats.decision(d.Allow)
}

// reload swaps the policy for requests that arrive from now on and asks every open connection
// again: the ones the new policy refuses are closed, each logged as a deny decision whose reason
// starts `closed on policy reload:`; the others go on untouched.
func (p *proxy) reload(next *policy.Policy) (int, int) {
	p.policy.Store(next)
	kept, closed := p.conns.enforce(next)
	for _, c := range closed {
		p.record(Decision{Client: c.conn.client, Method: c.conn.method, Host: strPtr(c.conn.host.Text()), Port: intPtr(c.conn.port), Rule: c.conn.rule, Reason: "closed on policy reload: " + c.reason})
	}
	return kept, len(closed)
}

// refusedSinceCheck says why the policy now in force refuses what a request reached, when it was
// reloaded since the request was checked under checkedUnder; "" when it still allows it.
func (p *proxy) refusedSinceCheck(checkedUnder *policy.Policy, host policy.Host, port int, address string) string {
	now := p.policy.Load()
	if now == checkedUnder {
		return ""
	}
	return refusalUnder(now, host, port, address)
}

// shutdown stops listening and drops every open connection, tunnels included.
func (p *proxy) shutdown() {
	p.mu.Lock()
	p.closing = true
	ln := p.listener
	clients := make([]net.Conn, 0, len(p.clients))
	for c := range p.clients {
		clients = append(clients, c)
	}
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	p.conns.closeAll()
	for _, c := range clients {
		c.Close()
	}
	p.stats.stop()
}

// headerBudget lets a request's head be read up to a limit, and the body without one.
type headerBudget struct {
	r         io.Reader
	remaining int // < 0: no limit
}

var errHeadTooLarge = errors.New("request header too large")

func (b *headerBudget) Read(buf []byte) (int, error) {
	if b.remaining == 0 {
		return 0, errHeadTooLarge
	}
	if b.remaining > 0 && len(buf) > b.remaining {
		buf = buf[:b.remaining]
	}
	n, err := b.r.Read(buf)
	if b.remaining > 0 {
		b.remaining -= n
	}
	return n, err
}

func clientOf(conn net.Conn) string {
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		return net.JoinHostPort(a.IP.String(), strconv.Itoa(a.Port))
	}
	return "unknown"
}

// handleClient reads requests until the connection ends, a tunnel takes it, or a request is refused.
func (p *proxy) handleClient(conn net.Conn) {
	defer p.untrack(conn)
	client := clientOf(conn)
	budget := &headerBudget{r: conn}
	br := bufio.NewReaderSize(budget, 16*1024)
	for served := false; ; served = true {
		budget.remaining = maxHeaderBytes + br.Buffered()
		if served && br.Buffered() == 0 {
			// Between requests: wait idle at most p.idle for the next one to start.
			_ = conn.SetReadDeadline(time.Now().Add(p.idle))
			if _, err := br.Peek(1); err != nil {
				conn.Close()
				return
			}
		}
		_ = conn.SetReadDeadline(time.Now().Add(p.head))
		req, err := http.ReadRequest(br)
		_ = conn.SetReadDeadline(time.Time{})
		if err != nil {
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) {
				conn.Close()
				return
			}
			p.record(Decision{Client: client, Method: "", Reason: "malformed request: " + clip(malformedText(err), 120)})
			refuse(conn, 400, publicMessage(400, "", ""))
			return
		}
		budget.remaining = -1
		if req.Method == http.MethodConnect {
			p.handleConnect(conn, br, req, client)
			return
		}
		if !p.handleForward(conn, br, req, client) {
			return
		}
	}
}

func malformedText(err error) string {
	if errors.Is(err, errHeadTooLarge) {
		return "request header too large"
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "Request timeout" // Node's words
	}
	return strings.TrimPrefix(err.Error(), "net/http: ")
}
