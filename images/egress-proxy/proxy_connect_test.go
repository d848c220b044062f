package main

// CONNECT tunnels end to end on 127.0.0.1: what gets through, what is refused before anything is
// resolved, and what is cut off after the 200 because of its ClientHello. A port of
// 2a29766:test/unit/egress/proxy-connect.test.ts.

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"sandboxshift.dev/egress/internal/hellotest"
)

// hConnectSetup starts a recording upstream answering `pong` and a proxy whose policy allow()
// builds from the upstream's port.
func hConnectSetup(t *testing.T, allow func(port int) []string, o hOptions, portMap func(port int) map[int]int) (*hRecordingServer, *hHarness) {
	t.Helper()
	upstream := hStartRecordingServer(t, []byte("pong"))
	o.allow = allow(upstream.port)
	if portMap != nil {
		o.portMap = portMap(upstream.port)
	}
	return upstream, hStartProxy(t, o)
}

func hWantDials(t *testing.T, h *hHarness, want ...hDial) {
	t.Helper()
	if want == nil {
		want = []hDial{}
	}
	if got := h.dials(); !reflect.DeepEqual(got, want) {
		t.Errorf("dialer calls = %+v, want %+v", got, want)
	}
}

func hWantResolved(t *testing.T, h *hHarness, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := h.resolved(); !reflect.DeepEqual(got, want) {
		t.Errorf("resolver calls = %q, want %q", got, want)
	}
}

// hWaitReceived waits until the upstream has received as many bytes as want holds, then checks they are want.
func hWaitReceived(t *testing.T, upstream *hRecordingServer, want []byte) {
	t.Helper()
	hWaitFor(t, "the upstream to receive the tunnelled bytes", func() bool { return len(upstream.received()) >= len(want) })
	if got := upstream.received(); !bytes.Equal(got, want) {
		t.Errorf("upstream received %q, want %q", got, want)
	}
}

var hISOTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
var hLoopbackClient = regexp.MustCompile(`^127\.0\.0\.1:\d+$`)

// ---- CONNECT allowed ----

func TestProxyConnectTunnelsToTheCheckedAddressOnceTheClientHelloNamesTheHost(t *testing.T) {
	upstream, h := hConnectSetup(t, hAllowNameAndLoopback, hOptions{}, nil)
	hello := hellotest.Capture(t, "allowed.test")
	tunnel := hRawRequest(t, h.port, hConnectRequest(fmt.Sprintf("allowed.test:%d", upstream.port)), false)
	if tunnel.head != "HTTP/1.1 200 Connection Established" {
		t.Fatalf("head = %q", tunnel.head)
	}

	sent := append(append([]byte(nil), hello...), "more"...)
	tunnel.write(sent)
	if got := string(tunnel.bytes(4)); got != "pong" {
		t.Fatalf("got %q, want pong", got)
	}
	hWaitReceived(t, upstream, sent)

	hWantResolved(t, h, "allowed.test")
	hWantDials(t, h, hDial{"127.0.0.1", upstream.port})
	d := h.decisionsN(1)[0]
	keys := []string{}
	for key := range d.raw {
		keys = append(keys, key)
	}
	wantKeys := []string{"ts", "client", "method", "host", "port", "decision", "rule", "reason", "resolved"}
	if len(keys) != len(wantKeys) {
		t.Errorf("decision fields = %q, want exactly %q", keys, wantKeys)
	}
	for _, key := range wantKeys {
		if _, ok := d.raw[key]; !ok {
			t.Errorf("decision has no %q: %s", key, hRawLine(d))
		}
	}
	if !hISOTime.MatchString(d.TS) {
		t.Errorf("ts = %q", d.TS)
	}
	if !hLoopbackClient.MatchString(d.Client) {
		t.Errorf("client = %q", d.Client)
	}
	rule := fmt.Sprintf("allowed.test:%d", upstream.port)
	h.match(d, hCheck{
		method:   hs("CONNECT"),
		host:     hs("allowed.test"),
		port:     hi(upstream.port),
		decision: hs("allow"),
		rule:     hs(rule),
		reason:   hs(fmt.Sprintf("allowed by '%s'; connected to 127.0.0.1", rule)),
		resolved: []string{"127.0.0.1"},
	})
}

func TestProxyConnectReadsAClientHelloOverSeveralChunksAndRecords(t *testing.T) {
	upstream, h := hConnectSetup(t, hAllowNameAndLoopback, hOptions{}, nil)
	hello := hInRecords(hClientHelloMessage("Allowed.Test."), 40)
	tunnel := hTunnel(t, h, fmt.Sprintf("ALLOWED.test:%d", upstream.port), nil)
	for _, piece := range [][]byte{hello[:3], hello[3:50], hello[50:]} {
		tunnel.write(piece)
		// Deliberate gaps, so the pieces reach the proxy as separate reads; nothing to wait for.
		time.Sleep(15 * time.Millisecond)
	}
	if got := string(tunnel.bytes(4)); got != "pong" {
		t.Fatalf("got %q, want pong", got)
	}
	hWaitReceived(t, upstream, hello)
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("allow"), host: hs("allowed.test")})
}

func TestProxyConnectLetsPlainHTTPThroughAPort80TunnelWithoutAClientHello(t *testing.T) {
	upstream, h := hConnectSetup(t, hAllowDefaultPortsAndLoopback, hOptions{}, hPort80ToUpstream)
	request := "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"
	tunnel := hTunnel(t, h, "allowed.test:80", []byte(request))
	if got := string(tunnel.bytes(4)); got != "pong" {
		t.Fatalf("got %q, want pong", got)
	}
	hWaitReceived(t, upstream, []byte(request))
	hWantDials(t, h, hDial{"127.0.0.1", 80})
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("allow"), port: hi(80), rule: hs("allowed.test")})
}

func TestProxyConnectTunnelsToAnIPLiteralInsideAnAddressEntryWithoutAServerName(t *testing.T) {
	upstream, h := hConnectSetup(t, func(port int) []string { return []string{fmt.Sprintf("127.0.0.1:%d", port)} }, hOptions{}, nil)
	hello := hellotest.Capture(t, "")
	tunnel := hTunnel(t, h, fmt.Sprintf("127.0.0.1:%d", upstream.port), hello)
	if got := string(tunnel.bytes(4)); got != "pong" {
		t.Fatalf("got %q, want pong", got)
	}
	hWantResolved(t, h)
	d := h.decisionsN(1)[0]
	h.match(d, hCheck{decision: hs("allow"), host: hs("127.0.0.1"), rule: hs(fmt.Sprintf("127.0.0.1:%d", upstream.port))})
	if _, ok := d.raw["resolved"]; ok {
		t.Errorf("an address target has resolved addresses: %s", hRawLine(d))
	}
}

// ---- CONNECT refused before anything is resolved ----

func TestProxyConnectRefusesADeniedNameWith403AndNeverResolvesIt(t *testing.T) {
	names := map[string][]string{"allowed.test": {"127.0.0.1"}, "evil.test": {"127.0.0.1"}, "evilallowed.test": {"127.0.0.1"}, "allowed.test.evil.test": {"127.0.0.1"}}
	for _, name := range []string{"evil.test", "evilallowed.test", "allowed.test.evil.test"} {
		name := name
		t.Run(name, func(t *testing.T) {
			upstream, h := hConnectSetup(t, hAllowNameAndLoopback, hOptions{names: names}, nil)
			reply := hRawRequest(t, h.port, hConnectRequest(fmt.Sprintf("%s:%d", name, upstream.port)), false)
			if reply.status != 403 {
				t.Fatalf("status %d: %q", reply.status, reply.head)
			}
			body := string(reply.closed())
			target := fmt.Sprintf("%s:%d", name, upstream.port)
			for _, want := range []string{
				"SandboxShift egress: " + target + " is not allowed by this environment's egress policy\n",
				"to allow it, add '" + target + "' to this environment's egress.allow in sandboxshift.yaml, then run sandboxshift apply\n",
			} {
				if !strings.Contains(body, want) {
					t.Errorf("body %q does not contain %q", body, want)
				}
			}
			hWantResolved(t, h)
			hWantDials(t, h)
			h.match(h.decisionsN(1)[0], hCheck{method: hs("CONNECT"), host: hs(name), port: hi(upstream.port), decision: hs("deny"), reason: hs("no rule matches " + name)})
		})
	}
}

func TestProxyConnectRefusesAnAllowedHostOnAPortItIsNotAllowed(t *testing.T) {
	upstream, h := hConnectSetup(t, hAllowNameAndLoopback, hOptions{}, nil)
	reply := hRawRequest(t, h.port, hConnectRequest(fmt.Sprintf("allowed.test:%d", upstream.port+1)), false)
	if reply.status != 403 {
		t.Fatalf("status %d: %q", reply.status, reply.head)
	}
	hWantResolved(t, h)
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("deny"), rule: hs(fmt.Sprintf("allowed.test:%d", upstream.port)), reasonHas: fmt.Sprintf("port %d is not allowed", upstream.port+1)})
}

func TestProxyConnectRefusesAnIPLiteralWithoutAnAddressEntry(t *testing.T) {
	upstream, h := hConnectSetup(t, hAllowNameOnly, hOptions{}, nil)
	reply := hRawRequest(t, h.port, hConnectRequest(fmt.Sprintf("127.0.0.1:%d", upstream.port)), false)
	if reply.status != 403 {
		t.Fatalf("status %d: %q", reply.status, reply.head)
	}
	if body := string(reply.closed()); !strings.Contains(body, "add '127.0.0.1/32' to this environment's egress.allow") {
		t.Errorf("body %q has no /32 hint", body)
	}
	hWantDials(t, h)
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("deny"), host: hs("127.0.0.1"), reason: hs("no address rule covers 127.0.0.1")})
}

func TestProxyConnectRefusesAMalformedTargetWith400(t *testing.T) {
	for _, target := range []string{"allowed.test", "allowed.test:", "allowed.test:0", "allowed.test:65536", "::1:443", "allowed.test/x:443", "evil.test@allowed.test:443"} {
		target := target
		t.Run(target, func(t *testing.T) {
			_, h := hConnectSetup(t, hAllowNameAndLoopback, hOptions{}, nil)
			reply := hRawRequest(t, h.port, "CONNECT "+target+" HTTP/1.1\r\n\r\n", false)
			if reply.status != 400 {
				t.Fatalf("status %d: %q", reply.status, reply.head)
			}
			hWantResolved(t, h)
			h.match(h.decisionsN(1)[0], hCheck{method: hs("CONNECT"), decision: hs("deny")})
		})
	}
}

// ---- CONNECT refused after resolving ----

func TestProxyConnectRefusesANameResolvingToLoopbackWithoutAnAddressEntry(t *testing.T) {
	upstream, h := hConnectSetup(t, hAllowNameOnly, hOptions{}, nil)
	reply := hRawRequest(t, h.port, hConnectRequest(fmt.Sprintf("allowed.test:%d", upstream.port)), false)
	if reply.status != 403 {
		t.Fatalf("status %d: %q", reply.status, reply.head)
	}
	if body := string(reply.closed()); strings.Contains(body, "127.0.0.1") {
		t.Errorf("the refusal tells the sandbox the address: %q", body) // details stay in the log
	}
	hWantResolved(t, h, "allowed.test")
	hWantDials(t, h)
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("deny"), rule: hs(fmt.Sprintf("allowed.test:%d", upstream.port)), resolved: []string{"127.0.0.1"}, reasonHas: "allowed.test resolves to 127.0.0.1 is loopback"})
}

func TestProxyConnectRefusesWhenAnyOneAddressIsPrivateEvenIfAnotherIsPublic(t *testing.T) {
	upstream, h := hConnectSetup(t, hAllowNameOnly,
		hOptions{names: map[string][]string{"allowed.test": {"93.184.216.34", "10.0.0.7"}}}, nil)
	reply := hRawRequest(t, h.port, hConnectRequest(fmt.Sprintf("allowed.test:%d", upstream.port)), false)
	if reply.status != 403 {
		t.Fatalf("status %d: %q", reply.status, reply.head)
	}
	hWantDials(t, h)
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("deny"), resolved: []string{"93.184.216.34", "10.0.0.7"}, reasonHas: "10.0.0.7 is private"})
}

func TestProxyConnectRefusesMetadataAddressesReachedThroughAnIPv4MappedAnswer(t *testing.T) {
	upstream, h := hConnectSetup(t, func(port int) []string { return []string{fmt.Sprintf("allowed.test:%d", port), "169.254.0.0/16"} },
		hOptions{names: map[string][]string{"allowed.test": {"::ffff:169.254.169.254"}}}, nil)
	reply := hRawRequest(t, h.port, hConnectRequest(fmt.Sprintf("allowed.test:%d", upstream.port)), false)
	if reply.status != 403 {
		t.Fatalf("status %d: %q", reply.status, reply.head)
	}
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("deny"), resolved: []string{"169.254.169.254"}, reasonHas: "metadata"})
}

func TestProxyConnectAnswers502WhenTheNameDoesNotResolveOrResolvesToSomethingElse(t *testing.T) {
	upstream, h := hConnectSetup(t, func(port int) []string {
		return []string{fmt.Sprintf("allowed.test:%d", port), fmt.Sprintf("odd.test:%d", port), fmt.Sprintf("none.test:%d", port), "127.0.0.0/8"}
	}, hOptions{names: map[string][]string{"odd.test": {"127.0.0.1", "evil.test"}, "none.test": {}}}, nil)
	for _, name := range []string{"gone.test", "odd.test", "none.test"} {
		reply := hRawRequest(t, h.port, hConnectRequest(fmt.Sprintf("%s:%d", name, upstream.port)), false)
		// gone.test is not in the policy at all, so it is refused before resolving
		want := 502
		if name == "gone.test" {
			want = 403
		}
		if reply.status != want {
			t.Errorf("%s: status %d, want %d", name, reply.status, want)
		}
	}
	hWantResolved(t, h, "odd.test", "none.test")
	hWantDials(t, h)
	if got := h.verdicts(); !reflect.DeepEqual(got, []string{"deny", "deny", "deny"}) {
		t.Fatalf("decisions = %q", got)
	}
	// Beyond the TS test: the reasons, which the TS proxy worded the same way.
	ds := h.decisions()
	h.match(ds[0], hCheck{host: hs("gone.test"), reason: hs("no rule matches gone.test")})
	h.match(ds[1], hCheck{host: hs("odd.test"), reason: hs("resolver returned something that is not an address for odd.test")})
	h.match(ds[2], hCheck{host: hs("none.test"), reason: hs("none.test resolved to no addresses")})
}

func TestProxyConnectAnswers502WhenTheUpstreamRefusesTheConnection(t *testing.T) {
	upstream, h := hConnectSetup(t, hAllowNameAndLoopback, hOptions{}, nil)
	upstream.close()
	reply := hRawRequest(t, h.port, hConnectRequest(fmt.Sprintf("allowed.test:%d", upstream.port)), false)
	if reply.status != 502 {
		t.Fatalf("status %d: %q", reply.status, reply.head)
	}
	d := h.decisionsN(1)[0]
	h.match(d, hCheck{decision: hs("deny")})
	// What follows "could not connect: " is Go's dial error (Node's differs); the refusal itself is
	// the stable part.
	if !strings.HasPrefix(d.Reason, "could not connect: ") || !strings.Contains(d.Reason, "connection refused") {
		t.Errorf("reason = %q", d.Reason)
	}
}

// ---- CONNECT cut off by its ClientHello ----

// hAfterHandshake opens a tunnel, sends firstBytes (nil: nothing) and waits for the proxy to close
// it; once the upstream has seen its connection end, it checks the upstream received nothing and
// returns what the client got after the 200.
func hAfterHandshake(t *testing.T, firstBytes []byte, helloTimeout time.Duration) ([]byte, *hHarness) {
	t.Helper()
	upstream, h := hConnectSetup(t, hAllowNameAndLoopback, hOptions{helloTimeout: helloTimeout}, nil)
	after := hTunnel(t, h, fmt.Sprintf("allowed.test:%d", upstream.port), firstBytes).closed()
	// The proxy connected upstream before its 200; anything it sent would arrive before that
	// connection's end.
	hWaitFor(t, "the upstream connection to end", func() bool { return upstream.connections() == 1 && upstream.open() == 0 })
	if got := upstream.received(); len(got) != 0 {
		t.Errorf("upstream received %d bytes", len(got))
	}
	return after, h
}

func TestProxyConnectClosesATunnelWhoseClientHelloNamesAnotherHost(t *testing.T) {
	after, h := hAfterHandshake(t, hellotest.Capture(t, "evil.test"), 0)
	if len(after) != 0 {
		t.Errorf("client got %q after the 200", after)
	}
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("deny"), host: hs("allowed.test"), reason: hs("ClientHello names evil.test, not allowed.test")})
}

func TestProxyConnectClosesATunnelWhoseClientHelloNamesALookalike(t *testing.T) {
	_, h := hAfterHandshake(t, hInRecords(hClientHelloMessage("allowed.test.evil.test"), 16384), 0)
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("deny"), reason: hs("ClientHello names allowed.test.evil.test, not allowed.test")})
}

func TestProxyConnectClosesATunnelWhoseClientHelloHasNoServerName(t *testing.T) {
	_, h := hAfterHandshake(t, hellotest.Capture(t, ""), 0)
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("deny"), reason: hs("ClientHello has no server name (SNI); allowed.test requires one")})
}

func TestProxyConnectClosesATunnelThatStartsWithSomethingOtherThanTLS(t *testing.T) {
	_, h := hAfterHandshake(t, []byte("GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n"), 0)
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("deny"), reason: hs("not a valid TLS ClientHello: not a TLS handshake record")})
}

func TestProxyConnectClosesATunnelWhoseClientSendsNothingInTime(t *testing.T) {
	_, h := hAfterHandshake(t, nil, 150*time.Millisecond)
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("deny"), reason: hs("no whole ClientHello within 150 ms")})
}

// ---- reload ----

func TestProxyConnectReloadAppliesANewPolicyToTheNextConnection(t *testing.T) {
	upstream, h := hConnectSetup(t, func(int) []string { return nil }, hOptions{}, nil)
	hello := hellotest.Capture(t, "allowed.test")
	target := fmt.Sprintf("allowed.test:%d", upstream.port)
	if status := hRawRequest(t, h.port, hConnectRequest(target), false).status; status != 403 {
		t.Fatalf("status %d before the reload, want 403", status)
	}

	h.proxy.reload(hParsePolicy(t, hAllowNameAndLoopback(upstream.port)))
	tunnel := hRawRequest(t, h.port, hConnectRequest(target), false)
	if tunnel.status != 200 {
		t.Fatalf("status %d after the reload: %q", tunnel.status, tunnel.head)
	}
	tunnel.write(hello)
	if got := string(tunnel.bytes(4)); got != "pong" {
		t.Fatalf("got %q, want pong", got)
	}

	// The open tunnel is one the new policy refuses: closed at the reload, and logged.
	if kept, closed := h.proxy.reload(hParsePolicy(t, nil)); kept != 0 || closed != 1 {
		t.Errorf("reload kept %d, closed %d; want 0, 1", kept, closed)
	}
	tunnel.closed()
	if status := hRawRequest(t, h.port, hConnectRequest(target), false).status; status != 403 {
		t.Errorf("status %d after the second reload, want 403", status)
	}
	if got := h.verdicts(); !reflect.DeepEqual(got, []string{"deny", "allow", "deny", "deny"}) {
		t.Fatalf("decisions = %q", got)
	}
	if got := h.decisions()[2].Reason; got != "closed on policy reload: no rule matches allowed.test" {
		t.Errorf("reason = %q", got)
	}
}

// ---- CONNECT half-close ----

// hBig is large enough that a tunnel torn down at the first FIN would cut it short.
var hBig = bytes.Repeat([]byte("x"), 4*1024*1024)

func hEOFSetup(t *testing.T, allow func(port int) []string, portMap func(port int) map[int]int) (*hAnswerAtEOFServer, *hHarness) {
	t.Helper()
	upstream := hStartAnswerAtEOFServer(t, func(received []byte) []byte {
		return append([]byte(fmt.Sprintf("got %d\n", len(received))), hBig...)
	})
	o := hOptions{allow: allow(upstream.port)}
	if portMap != nil {
		o.portMap = portMap(upstream.port)
	}
	return upstream, hStartProxy(t, o)
}

func hCheckAnswer(t *testing.T, answer []byte, sent int) {
	t.Helper()
	first := fmt.Sprintf("got %d\n", sent)
	if !bytes.HasPrefix(answer, []byte(first)) {
		t.Errorf("answer starts %q, want %q", answer[:hMin(len(answer), 32)], first)
	}
	if len(answer) != len(first)+len(hBig) {
		t.Errorf("answer is %d bytes, want %d", len(answer), len(first)+len(hBig))
	}
}

func hMin(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func TestProxyConnectHalfCloseDeliversTheWholeAnswerOnPort80(t *testing.T) {
	upstream, h := hEOFSetup(t, hAllowDefaultPortsAndLoopback, hPort80ToUpstream)
	request := "GET / HTTP/1.0\r\nHost: allowed.test\r\n\r\n"
	tunnel := hTunnel(t, h, "allowed.test:80", []byte(request))
	if err := tunnel.conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	// A slow reader: the answer piles up in the proxy while the upstream has long finished.
	hWaitFor(t, "the upstream to see the client's end", upstream.ended)
	time.Sleep(300 * time.Millisecond) // deliberately not reading: the slow reader itself
	hWantWholeAnswer(t, h, tunnel, upstream, []byte(request), hCheck{decision: hs("allow"), port: hi(80)})
}

func TestProxyConnectHalfCloseDeliversTheWholeAnswerAfterAClientHello(t *testing.T) {
	upstream, h := hEOFSetup(t, hAllowNameAndLoopback, nil)
	hello := hellotest.Capture(t, "allowed.test")
	sent := append(append([]byte(nil), hello...), "request"...)
	tunnel := hTunnel(t, h, fmt.Sprintf("allowed.test:%d", upstream.port), sent)
	if err := tunnel.conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	hWantWholeAnswer(t, h, tunnel, upstream, sent, hCheck{decision: hs("allow")})
}

func TestProxyConnectTunnelsARequestSentWithTheConnectInOneWriteThenHalfClosed(t *testing.T) {
	upstream, h := hEOFSetup(t, hAllowDefaultPortsAndLoopback, hPort80ToUpstream)
	request := "GET / HTTP/1.0\r\nHost: allowed.test\r\n\r\n"
	tunnel := hRawRequest(t, h.port, hConnectRequest("allowed.test:80")+request, true)
	if tunnel.status != 200 {
		t.Fatalf("status %d: %q", tunnel.status, tunnel.head)
	}
	hWantWholeAnswer(t, h, tunnel, upstream, []byte(request), hCheck{decision: hs("allow"), port: hi(80)})
}

func TestProxyConnectEndsTheTunnelBothWaysOnAFullCloseByTheClient(t *testing.T) {
	upstream, h := hConnectSetup(t, hAllowNameAndLoopback, hOptions{}, nil)
	hello := hellotest.Capture(t, "allowed.test")
	tunnel := hRawRequest(t, h.port, hConnectRequest(fmt.Sprintf("allowed.test:%d", upstream.port)), false)
	tunnel.write(hello)
	if got := string(tunnel.bytes(4)); got != "pong" {
		t.Fatalf("got %q, want pong", got)
	}
	tunnel.conn.Close()
	hWaitFor(t, "the upstream connection to close", func() bool { return upstream.open() == 0 })
	if n := upstream.connections(); n != 1 {
		t.Errorf("upstream saw %d connections, want 1", n)
	}
	hWaitFor(t, "the proxy to release the tunnel", func() bool { return h.proxy.conns.size() == 0 })
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("allow")})
}

func TestProxyConnectEndsTheTunnelBothWaysOnAFullCloseByTheUpstream(t *testing.T) {
	upstream, h := hConnectSetup(t, hAllowNameAndLoopback, hOptions{}, nil)
	hello := hellotest.Capture(t, "allowed.test")
	tunnel := hRawRequest(t, h.port, hConnectRequest(fmt.Sprintf("allowed.test:%d", upstream.port)), false)
	tunnel.write(hello)
	if got := string(tunnel.bytes(4)); got != "pong" {
		t.Fatalf("got %q, want pong", got)
	}
	upstream.dropConnections()
	if got := string(tunnel.closed()); got != "pong" {
		t.Errorf("client got %q, want pong", got)
	}
	// closed() ended the client's side too, as a Node client does; then the proxy lets the tunnel go.
	hWaitFor(t, "the proxy to release the tunnel", func() bool { return h.proxy.conns.size() == 0 })
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("allow")})
}
