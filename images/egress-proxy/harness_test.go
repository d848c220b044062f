package main

// A proxy on 127.0.0.1 with a fake resolver and a dialer that records where the proxy connects
// (and refuses anything off loopback, so a broken guard cannot reach the network), plus the
// loopback servers and raw clients the proxy tests talk through. A port of
// 2a29766:test/unit/egress/proxy-harness.ts and client-hello-fixture.ts.
//
// Every helper here starts with h, so it cannot clash with helpers other test files in this
// package define.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sandboxshift.dev/egress/policy"
)

// hWait bounds every read and every wait for a condition in these tests.
const hWait = 10 * time.Second

// hOptions configures hStartProxy.
type hOptions struct {
	allow []string
	// names is the fake DNS; names not listed fail to resolve. nil: allowed.test is 127.0.0.1.
	names map[string][]string
	// portMap rewrites ports at the dialer (e.g. 80 to a test server), since tests cannot bind 80.
	portMap map[int]int
	// helloTimeout is how long a tunnel client has to send its ClientHello; 0: 2 s.
	helloTimeout time.Duration
}

type hDial struct {
	address string
	port    int
}

type hHarness struct {
	t     *testing.T
	proxy *proxy
	port  int

	mu            sync.Mutex
	lines         []string
	resolverCalls []string
	dialCalls     []hDial
}

// hDecision is one parsed decision line; raw holds every field as logged, to check which are present.
type hDecision struct {
	TS       string   `json:"ts"`
	Client   string   `json:"client"`
	Method   string   `json:"method"`
	Host     *string  `json:"host"`
	Port     *int     `json:"port"`
	Decision string   `json:"decision"`
	Rule     string   `json:"rule"`
	Reason   string   `json:"reason"`
	Resolved []string `json:"resolved"`
	raw      map[string]json.RawMessage
}

func hParsePolicy(t *testing.T, allow []string) *policy.Policy {
	t.Helper()
	if allow == nil {
		allow = []string{}
	}
	p, problems := policy.Parse(allow)
	if len(problems) > 0 {
		t.Fatalf("bad test policy %q: %+v", allow, problems)
	}
	return p
}

// hAllowNameAndLoopback allows allowed.test on port (the upstream's), and 127.0.0.0/8.
func hAllowNameAndLoopback(port int) []string {
	return []string{fmt.Sprintf("allowed.test:%d", port), "127.0.0.0/8"}
}

// hAllowDefaultPortsAndLoopback allows allowed.test on its default ports (443 and 80), and 127.0.0.0/8.
func hAllowDefaultPortsAndLoopback(int) []string {
	return []string{"allowed.test", "127.0.0.0/8"}
}

// hPort80ToUpstream is a portMap sending the proxy's connections to port 80 to the upstream's port.
func hPort80ToUpstream(port int) map[int]int {
	return map[int]int{80: port}
}

// hStartProxy starts a proxy on 127.0.0.1:0, shut down when the test ends.
func hStartProxy(t *testing.T, o hOptions) *hHarness {
	t.Helper()
	h := &hHarness{t: t}
	names := o.names
	if names == nil {
		names = map[string][]string{"allowed.test": {"127.0.0.1"}}
	}
	helloTimeout := o.helloTimeout
	if helloTimeout == 0 {
		helloTimeout = 2 * time.Second
	}
	h.proxy = newProxy(proxyOptions{
		policy: hParsePolicy(t, o.allow),
		log: func(line string) {
			h.mu.Lock()
			h.lines = append(h.lines, line)
			h.mu.Unlock()
		},
		connectTimeout: 2 * time.Second,
		helloTimeout:   helloTimeout,
		resolve: func(ctx context.Context, name string) ([]string, error) {
			h.mu.Lock()
			h.resolverCalls = append(h.resolverCalls, name)
			h.mu.Unlock()
			answer, ok := names[name]
			if !ok {
				return nil, fmt.Errorf("lookup %s: no such host", name)
			}
			return append([]string(nil), answer...), nil
		},
		dial: func(address string, port int, timeout time.Duration) (net.Conn, error) {
			h.mu.Lock()
			h.dialCalls = append(h.dialCalls, hDial{address, port})
			h.mu.Unlock()
			if !strings.HasPrefix(address, "127.") {
				return nil, fmt.Errorf("test connector refuses %s: loopback only", address)
			}
			if mapped, ok := o.portMap[port]; ok {
				port = mapped
			}
			return tcpDialer(address, port, timeout)
		},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.port = ln.Addr().(*net.TCPAddr).Port
	served := make(chan struct{})
	go func() {
		_ = h.proxy.serve(ln)
		close(served)
	}()
	t.Cleanup(func() {
		h.proxy.shutdown()
		select {
		case <-served:
		case <-time.After(hWait):
			t.Errorf("the proxy did not stop serving")
		}
	})
	return h
}

func (h *hHarness) logLines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines...)
}

func (h *hHarness) resolved() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string{}, h.resolverCalls...)
}

func (h *hHarness) dials() []hDial {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hDial{}, h.dialCalls...)
}

// decisions parses every log line as a JSON decision.
func (h *hHarness) decisions() []hDecision {
	h.t.Helper()
	var out []hDecision
	for _, line := range h.logLines() {
		var d hDecision
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			h.t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		if err := json.Unmarshal([]byte(line), &d.raw); err != nil {
			h.t.Fatalf("log line is not a JSON object: %q: %v", line, err)
		}
		out = append(out, d)
	}
	return out
}

// decisionsN is decisions(), failing the test unless there are exactly n (TS toMatchObject on an
// array checks its length too).
func (h *hHarness) decisionsN(n int) []hDecision {
	h.t.Helper()
	ds := h.decisions()
	if len(ds) != n {
		h.t.Fatalf("want %d decisions, got %d:\n%s", n, len(ds), strings.Join(h.logLines(), "\n"))
	}
	return ds
}

// verdicts is the decision field of every line.
func (h *hHarness) verdicts() []string {
	out := []string{}
	for _, d := range h.decisions() {
		out = append(out, d.Decision)
	}
	return out
}

// hCheck is a partial match of a decision (toMatchObject): only the fields set are compared.
// The pointer fields distinguish "not checked" from a zero value.
type hCheck struct {
	client, method, host, decision, rule, reason *string
	port                                         *int
	reasonHas                                    string // reason contains this
	resolved                                     []string
}

func hs(s string) *string { return &s }
func hi(n int) *int       { return &n }

func (h *hHarness) match(d hDecision, want hCheck) {
	h.t.Helper()
	str := func(field string, got string, want *string) {
		if want != nil && got != *want {
			h.t.Errorf("decision %s = %q, want %q (line %s)", field, got, *want, hRawLine(d))
		}
	}
	str("client", d.Client, want.client)
	str("method", d.Method, want.method)
	if want.host != nil {
		if d.Host == nil {
			h.t.Errorf("decision host = null, want %q (line %s)", *want.host, hRawLine(d))
		} else {
			str("host", *d.Host, want.host)
		}
	}
	if want.port != nil && (d.Port == nil || *d.Port != *want.port) {
		h.t.Errorf("decision port = %s, want %d (line %s)", d.raw["port"], *want.port, hRawLine(d))
	}
	str("decision", d.Decision, want.decision)
	str("rule", d.Rule, want.rule)
	str("reason", d.Reason, want.reason)
	if want.reasonHas != "" && !strings.Contains(d.Reason, want.reasonHas) {
		h.t.Errorf("decision reason = %q, want it to contain %q", d.Reason, want.reasonHas)
	}
	if want.resolved != nil && !reflect.DeepEqual(d.Resolved, want.resolved) {
		h.t.Errorf("decision resolved = %q, want %q (line %s)", d.Resolved, want.resolved, hRawLine(d))
	}
}

func hRawLine(d hDecision) string {
	b, _ := json.Marshal(d.raw)
	return string(b)
}

// hWaitFor polls condition until it holds, failing the test after hWait.
func hWaitFor(t *testing.T, what string, condition func() bool) {
	t.Helper()
	deadline := time.Now().Add(hWait)
	for !condition() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hClosedErr is how a peer's close shows on a read: EOF, or a reset (a Node socket's `close`
// event fires for both).
func hClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// ---- raw clients ----

// hExchange is a raw connection to the proxy after a request, its response head read.
type hExchange struct {
	t       *testing.T
	conn    *net.TCPConn
	all     []byte
	headEnd int
	// head is the response head, up to the blank line.
	head   string
	status int
	eof    bool
}

// read reads once more (before the deadline), noting a close.
func (x *hExchange) read(deadline time.Time) {
	x.t.Helper()
	if x.eof {
		return
	}
	_ = x.conn.SetReadDeadline(deadline)
	buf := make([]byte, 64*1024)
	n, err := x.conn.Read(buf)
	x.all = append(x.all, buf[:n]...)
	if err != nil {
		if hClosedErr(err) {
			x.eof = true
			return
		}
		x.t.Fatalf("reading from the proxy after %d bytes: %v", len(x.all), err)
	}
}

func (x *hExchange) after() []byte { return x.all[x.headEnd+4:] }

// bytes returns every byte after the head as soon as at least n have arrived.
func (x *hExchange) bytes(n int) []byte {
	x.t.Helper()
	deadline := time.Now().Add(hWait)
	for len(x.after()) < n {
		if x.eof {
			x.t.Fatalf("closed after %d of %d bytes", len(x.after()), n)
		}
		x.read(deadline)
	}
	return append([]byte(nil), x.after()...)
}

// closed returns every byte after the head once the proxy has closed the connection (ended its
// sending side). The client then ends its own side, as a Node socket without allowHalfOpen does
// (the TS tests' clients), so a tunnel half-closed from the far end finishes closing.
func (x *hExchange) closed() []byte {
	x.t.Helper()
	deadline := time.Now().Add(hWait)
	for !x.eof {
		x.read(deadline)
	}
	_ = x.conn.CloseWrite()
	return append([]byte(nil), x.after()...)
}

func (x *hExchange) write(b []byte) {
	x.t.Helper()
	_ = x.conn.SetWriteDeadline(time.Now().Add(hWait))
	if _, err := x.conn.Write(b); err != nil {
		x.t.Fatalf("writing to the proxy: %v", err)
	}
}

func hDialProxy(t *testing.T, port int) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), hWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

var hStatusLine = regexp.MustCompile(`^HTTP/1\.1 (\d{3})`)

// hRawRequest sends request raw to the proxy and reads the response head. With endAfterWrite the
// client then shuts down its sending side (a half-close, as `printf ... | nc` does) and keeps reading.
func hRawRequest(t *testing.T, proxyPort int, request string, endAfterWrite bool) *hExchange {
	t.Helper()
	x := &hExchange{t: t, conn: hDialProxy(t, proxyPort)}
	x.write([]byte(request))
	if endAfterWrite {
		if err := x.conn.CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(hWait)
	for {
		if end := bytes.Index(x.all, []byte("\r\n\r\n")); end >= 0 {
			x.headEnd = end
			break
		}
		if x.eof {
			t.Fatalf("proxy closed without a response: %q", x.all)
		}
		x.read(deadline)
	}
	x.head = string(x.all[:x.headEnd])
	if m := hStatusLine.FindStringSubmatch(x.head); m != nil {
		x.status, _ = strconv.Atoi(m[1])
	}
	return x
}

func hConnectRequest(target string) string {
	return "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n"
}

// hTunnel opens a CONNECT tunnel to target, failing the test unless the proxy answers 200, and
// sends first through it (nothing when nil).
func hTunnel(t *testing.T, h *hHarness, target string, first []byte) *hExchange {
	t.Helper()
	x := hRawRequest(t, h.port, hConnectRequest(target), false)
	if x.status != 200 {
		t.Fatalf("CONNECT %s: status %d: %q", target, x.status, x.head)
	}
	if first != nil {
		x.write(first)
	}
	return x
}

// hAnsweredAndClosed sends request raw, checks the proxy answers it with status, reads until the
// proxy closes the connection, then closes the client's end.
func hAnsweredAndClosed(t *testing.T, proxyPort int, request string, status int) {
	t.Helper()
	x := hRawRequest(t, proxyPort, request, false)
	if x.status != status {
		t.Errorf("status %d, want %d: %q", x.status, status, x.head)
	}
	x.closed()
	x.conn.Close()
}

// hResponse is one response read through the proxy.
type hResponse struct {
	status  int
	message string
	header  http.Header
	body    string
}

// hViaProxy sends one request through the proxy the way an HTTP_PROXY client does (Node's
// http.request with agent: false): absolute-form URL, Host 127.0.0.1:proxy unless given,
// `Connection: close` unless a Connection header is given, and the body with a Content-Length,
// or chunked when a transfer-encoding: chunked header is given. headers are "name: value".
func hViaProxy(t *testing.T, proxyPort int, method, url string, headers []string, body string) hResponse {
	t.Helper()
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\n", method, url)
	has := func(name string) bool {
		for _, header := range headers {
			if strings.EqualFold(strings.TrimSpace(strings.SplitN(header, ":", 2)[0]), name) {
				return true
			}
		}
		return false
	}
	if !has("host") {
		fmt.Fprintf(&req, "Host: 127.0.0.1:%d\r\n", proxyPort)
	}
	if !has("connection") {
		req.WriteString("Connection: close\r\n")
	}
	for _, header := range headers {
		req.WriteString(header + "\r\n")
	}
	chunked := has("transfer-encoding")
	if !chunked && body != "" {
		fmt.Fprintf(&req, "Content-Length: %d\r\n", len(body))
	}
	req.WriteString("\r\n")
	if chunked {
		if body != "" {
			fmt.Fprintf(&req, "%x\r\n%s\r\n", len(body), body)
		}
		req.WriteString("0\r\n\r\n")
	} else {
		req.WriteString(body)
	}

	conn := hDialProxy(t, proxyPort)
	_ = conn.SetDeadline(time.Now().Add(hWait))
	if _, err := conn.Write([]byte(req.String())); err != nil {
		t.Fatalf("writing to the proxy: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the proxy's response: %v", err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the proxy's response body: %v", err)
	}
	return hResponse{status: resp.StatusCode, message: strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)+" "), header: resp.Header, body: string(text)}
}

// ---- loopback servers ----

// hServer is a loopback listener whose connections are tracked and closed at the end of the test.
type hServer struct {
	ln    net.Listener
	port  int
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	count int
	wg    sync.WaitGroup
}

func hListen(t *testing.T, handle func(net.Conn)) *hServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &hServer{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[conn] = struct{}{}
			s.count++
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() {
					conn.Close()
					s.mu.Lock()
					delete(s.conns, conn)
					s.mu.Unlock()
				}()
				// A backstop: no server connection outlives the test by much.
				_ = conn.SetDeadline(time.Now().Add(3 * hWait))
				handle(conn)
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

// connections is how many connections were accepted; open how many are not yet closed.
func (s *hServer) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

func (s *hServer) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// dropConnections closes every accepted connection (a full close from the upstream), keeps listening.
func (s *hServer) dropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// close stops listening, closes every connection and waits for the handlers; a second call does nothing.
func (s *hServer) close() {
	s.ln.Close()
	s.dropConnections()
	s.wg.Wait()
}

// hClosedPort is a loopback port nothing listens on.
func hClosedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// hServeHTTP is a loopback server that hands each request on a connection, its body read whole, to
// answer, in turn, until answer returns false or reading the next request fails.
func hServeHTTP(t *testing.T, answer func(conn net.Conn, req *http.Request, body []byte) bool) *hServer {
	t.Helper()
	return hListen(t, func(conn net.Conn) {
		br := bufio.NewReader(conn)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return
			}
			if !answer(conn, req, body) {
				return
			}
		}
	})
}

// hRecordingServer is a raw TCP server that records what its connections send, and answers
// reply to each connection's first bytes.
type hRecordingServer struct {
	*hServer
	mu  sync.Mutex
	got []byte
}

func hStartRecordingServer(t *testing.T, reply []byte) *hRecordingServer {
	t.Helper()
	r := &hRecordingServer{}
	r.hServer = hListen(t, func(conn net.Conn) {
		replied := false
		buf := make([]byte, 64*1024)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				r.mu.Lock()
				r.got = append(r.got, buf[:n]...)
				r.mu.Unlock()
				if reply != nil && !replied {
					replied = true
					if _, err := conn.Write(reply); err != nil {
						return
					}
				}
			}
			if err != nil {
				return
			}
		}
	})
	return r
}

func (r *hRecordingServer) received() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte{}, r.got...)
}

// hUpstreamRequest is one request an hHTTPUpstream saw.
type hUpstreamRequest struct {
	method, url, host string
	header            http.Header
	body              string
}

// hHTTPUpstream is an HTTP server that records requests and answers each with fixed headers
// (hop-by-hop ones among them) and body. Raw, for the reason phrase `Made`, which Go's
// http.Server cannot send.
type hHTTPUpstream struct {
	*hServer
	mu   sync.Mutex
	seen []hUpstreamRequest
}

const hUpstreamResponse = "HTTP/1.1 201 Made\r\n" +
	"x-upstream: yes\r\n" +
	"keep-alive: timeout=5\r\n" +
	"proxy-authenticate: Basic realm=\"upstream\"\r\n" +
	"connection: x-secret\r\n" +
	"x-secret: hop-by-hop\r\n" +
	"set-cookie: a=1\r\n" +
	"set-cookie: b=2\r\n" +
	"content-length: 19\r\n" +
	"\r\n" +
	"hello from upstream"

func hStartHTTPUpstream(t *testing.T) *hHTTPUpstream {
	t.Helper()
	u := &hHTTPUpstream{}
	u.hServer = hServeHTTP(t, func(conn net.Conn, req *http.Request, body []byte) bool {
		u.mu.Lock()
		u.seen = append(u.seen, hUpstreamRequest{method: req.Method, url: req.RequestURI, host: req.Host, header: req.Header, body: string(body)})
		u.mu.Unlock()
		_, err := conn.Write([]byte(hUpstreamResponse))
		return err == nil && !req.Close
	})
	return u
}

func (u *hHTTPUpstream) requests() []hUpstreamRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]hUpstreamRequest{}, u.seen...)
}

// hAnswerAtEOFServer answers only once the client has finished sending (its FIN arrived), the way
// a server reading a request "until EOF" does, and then closes. Records when it saw the end.
type hAnswerAtEOFServer struct {
	*hServer
	mu     sync.Mutex
	got    []byte
	sawEnd bool
}

func hStartAnswerAtEOFServer(t *testing.T, answer func(received []byte) []byte) *hAnswerAtEOFServer {
	t.Helper()
	s := &hAnswerAtEOFServer{}
	s.hServer = hListen(t, func(conn net.Conn) {
		buf := make([]byte, 64*1024)
		for {
			n, err := conn.Read(buf)
			s.mu.Lock()
			s.got = append(s.got, buf[:n]...)
			s.mu.Unlock()
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		s.mu.Lock()
		s.sawEnd = true
		got := append([]byte(nil), s.got...)
		s.mu.Unlock()
		// Answer a little later, so a proxy that closed on the half-close has had time to do so.
		time.Sleep(30 * time.Millisecond)
		if _, err := conn.Write(answer(got)); err != nil {
			return
		}
		_ = conn.(*net.TCPConn).CloseWrite()
	})
	return s
}

func (s *hAnswerAtEOFServer) received() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte{}, s.got...)
}

func (s *hAnswerAtEOFServer) ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sawEnd
}

// ---- ClientHellos (from tlshello/fixture_test.go) ----

func hU16(n int) []byte { return []byte{byte(n >> 8), byte(n)} }

// hClientHelloMessage is a hand-made ClientHello handshake message (not yet in a record) with one
// server_name extension holding serverNames.
func hClientHelloMessage(serverNames ...string) []byte {
	var list []byte
	for _, name := range serverNames {
		list = append(append(append(list, 0), hU16(len(name))...), name...)
	}
	data := append(hU16(len(list)), list...)
	exts := append(append(hU16(0), hU16(len(data))...), data...)
	var body []byte
	body = append(body, 3, 3)
	body = append(body, bytes.Repeat([]byte{7}, 32)...)
	body = append(body, 0)                  // no session id
	body = append(body, 0, 2, 0x13, 0x01)   // one cipher suite
	body = append(body, 1, 0)               // null compression
	body = append(body, hU16(len(exts))...) // extensions
	body = append(body, exts...)
	return append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

// hInRecords wraps handshake bytes in TLS records of at most size bytes each.
func hInRecords(message []byte, size int) []byte {
	var records []byte
	for at := 0; at < len(message); at += size {
		end := at + size
		if end > len(message) {
			end = len(message)
		}
		records = append(records, 22, 3, 1)
		records = append(records, hU16(end-at)...)
		records = append(records, message[at:end]...)
	}
	return records
}

// ---- the proxy's open connections ----

type hOpen struct {
	method, host, address, rule string
	port                        int
}

// hOpenConnections is a snapshot of what the proxy's registry holds (TS openConnections.list()).
func hOpenConnections(p *proxy) []hOpen {
	p.conns.mu.Lock()
	defer p.conns.mu.Unlock()
	var out []hOpen
	for _, c := range p.conns.open {
		out = append(out, hOpen{method: c.method, host: c.host.Text(), address: c.address, rule: c.rule, port: c.port})
	}
	return out
}

// ---- checks shared by the test files ----

// hWantWholeAnswer reads the tunnel until the proxy closes it and checks that the upstream received
// exactly sent, the client got the upstream's whole answer, and the one decision logged matches want.
func hWantWholeAnswer(t *testing.T, h *hHarness, tunnel *hExchange, upstream *hAnswerAtEOFServer, sent []byte, want hCheck) {
	t.Helper()
	answer := tunnel.closed()
	if got := upstream.received(); !bytes.Equal(got, sent) {
		t.Errorf("upstream received %q, want %q", got, sent)
	}
	hCheckAnswer(t, answer, len(sent))
	h.match(h.decisionsN(1)[0], want)
}

// hWantWholeForward reads the reply until the proxy closes it and checks that the client got the
// upstream's body, the upstream saw exactly want (method, URL, body), and one allow was logged.
func hWantWholeForward(t *testing.T, h *hHarness, upstream *hHTTPUpstream, reply *hExchange, want ...[3]string) {
	t.Helper()
	if body := string(reply.closed()); !strings.Contains(body, "hello from upstream") {
		t.Errorf("body %q", body)
	}
	if got := hSeen(upstream); !reflect.DeepEqual(got, want) {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("allow")})
}

// ---- services on a policy file (service_test.go's svc helpers) ----

// hWatchedService starts a service on a new policy file holding content, polled every 10 ms, with a
// dialer that refuses every connection, and checks that it answers CONNECT 127.0.0.1:9 with status.
func hWatchedService(t *testing.T, content string, status int) (*svcPolicyFile, *svcRefusingDialer, *svcRunning) {
	t.Helper()
	file := svcNewPolicyFile(t, content)
	dialer := &svcRefusingDialer{}
	s := svcStart(t, file.path, func(o *serviceOptions) {
		o.watchInterval = 10 * time.Millisecond
		o.dial = dialer.dial
	})
	if got := svcStatus(t, s.port, "127.0.0.1:9"); got != status {
		t.Fatalf("at start: CONNECT 127.0.0.1:9 answered %d; want %d", got, status)
	}
	return file, dialer, s
}

// hStatsService starts a service on a new policy file holding content that writes its figures to
// stats.json beside that file every 20 ms; options (nil: none) changes the rest.
func hStatsService(t *testing.T, content string, options func(*serviceOptions)) (file *svcPolicyFile, statsPath string, s *svcRunning) {
	t.Helper()
	file = svcNewPolicyFile(t, content)
	statsPath = filepath.Join(file.dir, "stats.json")
	s = svcStart(t, file.path, func(o *serviceOptions) {
		o.statsPath = statsPath
		o.statsInterval = 20 * time.Millisecond
		if options != nil {
			options(o)
		}
	})
	return file, statsPath, s
}

// hNothingLogged checks that log holds no line.
func hNothingLogged(t *testing.T, log *svcLog) {
	t.Helper()
	if lines := log.all(); len(lines) != 0 {
		t.Errorf("logged %q", lines)
	}
}
