package main

// Attacks from the sandbox's side that the Go proxy once fell to: a policy reload landing between
// a tunnel's last check and its registration, memory held by idle tunnels, connections that never
// finish (or never start) a request head, an upstream head that never ends, 100 Continue, and a
// path starting with `//`. Every helper here starts with atk.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sandboxshift.dev/egress/internal/hellotest"
	"sandboxshift.dev/egress/policy"
)

// atkTune changes a started proxy's settings before any client connects. The proxy's mutex is
// the one serve takes for every accepted connection, so the handlers see the change.
func atkTune(h *hHarness, change func(p *proxy)) {
	h.proxy.mu.Lock()
	change(h.proxy)
	h.proxy.mu.Unlock()
}

// atkReadUntilClosed reads conn until the proxy closes it or within passes; closed tells which.
func atkReadUntilClosed(t *testing.T, conn net.Conn, within time.Duration) (got []byte, closed bool) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, hClosedErr(err)
		}
	}
}

// atkHeapAfterGC is the live heap once the garbage (and sync.Pool's victim cache) is collected.
func atkHeapAfterGC() uint64 {
	var m runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A reload that lands after a tunnel's last check but before the proxy counts it as open must
// still close it: otherwise the tunnel runs on under a policy that refuses it. The reload is
// started at the moment the allow decision is logged, the last step before the tunnel opens.
func TestAtkAReloadRightAfterTheLastCheckStillClosesTheTunnel(t *testing.T) {
	upstream, h := hConnectSetup(t, hAllowNameAndLoopback, hOptions{}, nil)
	var once sync.Once
	reloaded := make(chan struct{})
	atkTune(h, func(p *proxy) {
		logged := p.log
		p.log = func(line string) {
			logged(line)
			if !strings.Contains(line, `"decision":"allow"`) {
				return
			}
			once.Do(func() {
				go func() {
					p.reload(policy.DenyAll)
					close(reloaded)
				}()
				// Give the reload its chance to run before the tunnel is counted as open; a proxy
				// that makes it wait for that is right to.
				select {
				case <-reloaded:
				case <-time.After(300 * time.Millisecond):
				}
			})
		}
	})

	tunnel := hTunnel(t, h, fmt.Sprintf("allowed.test:%d", upstream.port), hellotest.Capture(t, "allowed.test"))
	select {
	case <-reloaded:
	case <-time.After(hWait):
		t.Fatal("the reload did not finish")
	}
	if _, closed := atkReadUntilClosed(t, tunnel.conn, 3*time.Second); !closed {
		t.Fatal("the tunnel is still open after a reload to a policy that refuses it")
	}
	hWaitFor(t, "the proxy to release the tunnel", func() bool { return h.proxy.conns.size() == 0 })
	found := false
	for _, d := range h.decisions() {
		if d.Decision == "deny" && strings.HasPrefix(d.Reason, "closed on policy reload:") {
			found = true
		}
	}
	if !found {
		t.Errorf("no `closed on policy reload` decision:\n%s", strings.Join(h.logLines(), "\n"))
	}
}

// An open tunnel with nothing to send costs goroutines, not copy buffers: the container has
// 128 MiB, and each idle tunnel used to keep two 64 KiB buffers and the 16 KiB request reader
// once any data had moved (about 160 KiB of RSS each, 800 tunnels to fill the container; the
// Node proxy took about 30 KiB).
func TestAtkAnIdleTunnelHoldsNoCopyBuffers(t *testing.T) {
	const tunnels = 48
	burst := bytes.Repeat([]byte{'x'}, 64*1024)
	var received atomic.Int64
	upstream := hListen(t, func(conn net.Conn) {
		if _, err := conn.Write(burst); err != nil {
			return
		}
		buf := make([]byte, 512)
		for {
			n, err := conn.Read(buf)
			received.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	h := hStartProxy(t, hOptions{allow: hAllowNameAndLoopback(upstream.port)})
	hello := hellotest.Capture(t, "allowed.test")
	established := make([]byte, len("HTTP/1.1 200 Connection Established\r\n\r\n"))
	down := make([]byte, len(burst))

	before := atkHeapAfterGC()
	for i := 0; i < tunnels; i++ {
		c := hDialProxy(t, h.port)
		_ = c.SetDeadline(time.Now().Add(hWait))
		if _, err := c.Write([]byte(hConnectRequest(fmt.Sprintf("allowed.test:%d", upstream.port)))); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, established); err != nil || !bytes.HasPrefix(established, []byte("HTTP/1.1 200")) {
			t.Fatalf("tunnel %d: %q %v", i, established, err)
		}
		if _, err := c.Write(append(append([]byte{}, hello...), burst...)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, down); err != nil {
			t.Fatalf("tunnel %d: reading the upstream's burst: %v", i, err)
		}
	}
	want := int64(tunnels * (len(hello) + len(burst)))
	hWaitFor(t, "the upstream to receive every burst", func() bool { return received.Load() == want })
	after := atkHeapAfterGC()
	if len(hOpenConnections(h.proxy)) != tunnels {
		t.Fatalf("%d tunnels open, want %d", len(hOpenConnections(h.proxy)), tunnels)
	}
	per := (int64(after) - int64(before)) / tunnels
	t.Logf("live heap per idle tunnel: %d bytes", per)
	if per > 24*1024 {
		t.Errorf("each idle tunnel keeps %d bytes of heap, want at most 24 KiB", per)
	}
}

// A client that starts a request head and never finishes it (slowloris) is refused once the head
// timeout passes, as Node's headersTimeout did, instead of holding its connection for ever.
func TestAtkARequestHeadThatNeverEndsIsRefusedAfterTheHeadTimeout(t *testing.T) {
	h := hStartProxy(t, hOptions{allow: []string{"allowed.test"}})
	atkTune(h, func(p *proxy) { p.head = 300 * time.Millisecond })
	for _, sent := range []string{"GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nX-A: b", ""} {
		c := hDialProxy(t, h.port)
		if _, err := c.Write([]byte(sent)); err != nil {
			t.Fatal(err)
		}
		got, closed := atkReadUntilClosed(t, c, 3*time.Second)
		if !closed || !bytes.HasPrefix(got, []byte("HTTP/1.1 400 ")) {
			t.Errorf("after sending %q: closed %v, got %q; want a 400 and the end", sent, closed, got)
		}
	}
	for _, d := range h.decisions() {
		h.match(d, hCheck{decision: hs("deny"), reason: hs("malformed request: Request timeout")})
	}
	if n := len(h.decisions()); n != 2 {
		t.Errorf("%d decisions, want 2:\n%s", n, strings.Join(h.logLines(), "\n"))
	}
}

// A keep-alive connection left idle after its answer is closed, without a word, once the idle
// timeout passes (Node's keepAliveTimeout); one whose next request comes in time is served.
func TestAtkAnIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout(t *testing.T) {
	upstream, h := hHTTPSetup(t, hAllowNameAndLoopback, nil)
	atkTune(h, func(p *proxy) { p.idle = 300 * time.Millisecond })
	request := fmt.Sprintf("GET http://allowed.test:%d/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n", upstream.port)
	c := hDialProxy(t, h.port)
	_ = c.SetDeadline(time.Now().Add(hWait))
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		if _, err := c.Write([]byte(request)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if _, err := io.ReadAll(resp.Body); err != nil || resp.StatusCode != 201 {
			t.Fatalf("request %d: status %d, %v", i, resp.StatusCode, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got, closed := atkReadUntilClosed(t, c, 3*time.Second)
	if !closed || len(got) != 0 || br.Buffered() != 0 {
		t.Errorf("idle keep-alive connection: closed %v, got %q; want closed without a word", closed, got)
	}
	if n := len(h.decisions()); n != 2 {
		t.Errorf("%d decisions, want the 2 allows:\n%s", n, strings.Join(h.logLines(), "\n"))
	}
}

// An upstream whose response head never ends is cut off at the request head's limit and
// answered 502; the proxy used to read all of it into memory (and pass a 32 MiB head on).
func TestAtkAnUpstreamHeadThatNeverEndsIsCutOff(t *testing.T) {
	const huge = 32 << 20
	wrote := make(chan int, 1)
	up := hListen(t, func(conn net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
			wrote <- 0
			return
		}
		total := 0
		_, _ = conn.Write([]byte("HTTP/1.1 200 OK\r\nX-Big: "))
		chunk := bytes.Repeat([]byte{'a'}, 64*1024)
		for total < huge {
			n, err := conn.Write(chunk)
			total += n
			if err != nil {
				break
			}
		}
		_, _ = conn.Write([]byte("\r\nContent-Length: 0\r\n\r\n"))
		wrote <- total
	})
	h := hStartProxy(t, hOptions{allow: hAllowNameAndLoopback(up.port)})
	reply := hRawRequest(t, h.port, fmt.Sprintf("GET http://allowed.test:%d/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n", up.port), false)
	if reply.status != 502 || len(reply.head) > 1024 {
		t.Errorf("status %d with a %d-byte head; want a 502", reply.status, len(reply.head))
	}
	select {
	case n := <-wrote:
		if n >= huge {
			t.Errorf("the proxy read all %d bytes of the upstream's head", n)
		}
	case <-time.After(hWait):
		t.Error("the upstream is still writing its head")
	}
}

// `Expect: 100-continue` (curl sends it with a large body): the client gets its 100 Continue, then
// the real answer. The proxy used to pass the upstream's 100 on as if it were the answer, with a
// Content-Length, and drop the real one, leaving the client waiting.
func TestAtkExpectContinueGetsTheFinalAnswer(t *testing.T) {
	var got atomic.Value
	up := hListen(t, func(conn net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			return
		}
		if _, err := conn.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		got.Store(string(body))
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	})
	h := hStartProxy(t, hOptions{allow: hAllowNameAndLoopback(up.port)})
	c := hDialProxy(t, h.port)
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "POST http://allowed.test:%d/up HTTP/1.1\r\nHost: allowed.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", up.port)
	br := bufio.NewReader(c)
	interim, err := http.ReadResponse(br, nil)
	if err != nil || interim.StatusCode != 100 || interim.Header.Get("Content-Length") != "" {
		t.Fatalf("first answer: %+v %v; want a bare 100 Continue", interim, err)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	final, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no final answer after the 100 Continue: %v", err)
	}
	body, err := io.ReadAll(final.Body)
	if err != nil || final.StatusCode != 200 || string(body) != "hello" {
		t.Errorf("final answer %d %q %v; want 200 hello", final.StatusCode, body, err)
	}
	if s, _ := got.Load().(string); s != "hello" {
		t.Errorf("upstream got body %q", s)
	}
}

// A path that starts with `//` reaches the upstream as written; Go's url.URL used to turn it into
// `://evil.test/x`, which the upstream refused.
func TestAtkAPathStartingWithTwoSlashesIsSentAsWritten(t *testing.T) {
	upstream, h := hHTTPSetup(t, hAllowNameAndLoopback, nil)
	for _, path := range []string{"//evil.test/x?y=1", "//a%2Fb/c", "//", "//q?"} {
		res := hViaProxy(t, h.port, "GET", fmt.Sprintf("http://allowed.test:%d%s", upstream.port, path), nil, "")
		if res.status != 201 {
			t.Errorf("%s: status %d", path, res.status)
		}
	}
	want := [][3]string{{"GET", "//evil.test/x?y=1", ""}, {"GET", "//a%2Fb/c", ""}, {"GET", "//", ""}, {"GET", "//q?", ""}}
	if got := hSeen(upstream); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
}

// A client that resets its connection while the proxy awaits the upstream's answer ends the
// exchange: the upstream connection is closed and the proxy stops counting it as open, as the TS
// proxy did. The proxy used to hold both until the upstream answered, for ever if it never did.
func TestAtkAClientResetWhileTheAnswerIsAwaitedClosesTheUpstream(t *testing.T) {
	ended := make(chan struct{})
	var requested atomic.Bool
	up := hListen(t, func(conn net.Conn) {
		defer close(ended)
		br := bufio.NewReader(conn)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		requested.Store(true)
		_, _ = io.Copy(io.Discard, br) // never answers; returns when the proxy closes
	})
	h := hStartProxy(t, hOptions{allow: hAllowNameAndLoopback(up.port)})
	c := hDialProxy(t, h.port)
	fmt.Fprintf(c, "GET http://allowed.test:%d/slow HTTP/1.1\r\nHost: allowed.test\r\n\r\n", up.port)
	hWaitFor(t, "the upstream to get the request", requested.Load)
	time.Sleep(50 * time.Millisecond)
	_ = c.SetLinger(0)
	_ = c.Close() // a reset
	select {
	case <-ended:
	case <-time.After(3 * time.Second):
		t.Fatal("the upstream connection is still open after the client reset")
	}
	hWaitFor(t, "the proxy to release the exchange", func() bool { return h.proxy.conns.size() == 0 })
}

// A client that half-closes after its request still gets the answer however long it takes: the
// watch for a reset does not take a FIN for one.
func TestAtkAHalfCloseWhileTheAnswerIsAwaitedStillGetsIt(t *testing.T) {
	release := make(chan struct{})
	up := hListen(t, func(conn net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
			return
		}
		<-release
		_, _ = conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate"))
	})
	h := hStartProxy(t, hOptions{allow: hAllowNameAndLoopback(up.port)})
	go func() {
		time.Sleep(300 * time.Millisecond)
		close(release)
	}()
	reply := hRawRequest(t, h.port, fmt.Sprintf("GET http://allowed.test:%d/late HTTP/1.1\r\nHost: allowed.test\r\n\r\n", up.port), true)
	if reply.status != 200 {
		t.Fatalf("status %d: %q", reply.status, reply.head)
	}
	if body := string(reply.closed()); body != "late" {
		t.Errorf("body %q, want late", body)
	}
}

// A client whose request body stops short of its Content-Length and then closes has sent a
// request that can never be whole: the upstream connection is closed (it sees the body end
// early) rather than left waiting for the rest, and the proxy stops counting it as open.
func TestAtkABodyCutShortByTheClientClosesTheUpstream(t *testing.T) {
	ended := make(chan error, 1)
	up := hListen(t, func(conn net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			ended <- err
			return
		}
		_, err = io.Copy(io.Discard, req.Body) // waits for the whole body before answering
		ended <- err
	})
	h := hStartProxy(t, hOptions{allow: hAllowNameAndLoopback(up.port)})
	c := hDialProxy(t, h.port)
	fmt.Fprintf(c, "POST http://allowed.test:%d/up HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 100\r\n\r\nabc", up.port)
	hWaitFor(t, "the exchange to open", func() bool { return h.proxy.conns.size() == 1 })
	time.Sleep(50 * time.Millisecond)
	_ = c.Close()
	select {
	case err := <-ended:
		if err == nil {
			t.Error("the upstream read a whole body")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the upstream is still waiting for the rest of the body")
	}
	hWaitFor(t, "the proxy to release the exchange", func() bool { return h.proxy.conns.size() == 0 })
}
