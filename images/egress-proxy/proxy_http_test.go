package main

// Absolute-form http:// requests end to end on 127.0.0.1: forwarded to the checked address with a
// Host header the proxy builds, hop-by-hop and Proxy-* headers stripped both ways. A port of
// 2a29766:test/unit/egress/proxy-http.test.ts.

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func hHTTPSetup(t *testing.T, allow func(port int) []string, names map[string][]string) (*hHTTPUpstream, *hHarness) {
	t.Helper()
	upstream := hStartHTTPUpstream(t)
	return upstream, hStartProxy(t, hOptions{allow: allow(upstream.port), names: names})
}

func hAllowNameOnly(port int) []string {
	return []string{fmt.Sprintf("allowed.test:%d", port)}
}

// hSeen is the method, URL and body of every request the upstream saw.
func hSeen(u *hHTTPUpstream) [][3]string {
	out := [][3]string{}
	for _, r := range u.requests() {
		out = append(out, [3]string{r.method, r.url, r.body})
	}
	return out
}

// ---- plain HTTP forwarding ----

func TestProxyHTTPForwardsAGetToTheCheckedAddressAndStreamsTheResponseBack(t *testing.T) {
	upstream, h := hHTTPSetup(t, hAllowNameAndLoopback, nil)
	res := hViaProxy(t, h.port, "GET", fmt.Sprintf("http://allowed.test:%d/path?q=1", upstream.port), []string{
		"host: evil.test",
		"proxy-authorization: Basic c2VjcmV0",
		"proxy-connection: keep-alive",
		"connection: close, x-drop",
		"x-drop: hop",
		"x-keep: end-to-end",
	}, "")

	if res.status != 201 || res.message != "Made" || res.body != "hello from upstream" {
		t.Errorf("response %d %q, body %q; want 201 Made, hello from upstream", res.status, res.message, res.body)
	}
	if got := res.header.Get("x-upstream"); got != "yes" {
		t.Errorf("x-upstream = %q", got)
	}
	if got := res.header.Values("set-cookie"); !reflect.DeepEqual(got, []string{"a=1", "b=2"}) {
		t.Errorf("set-cookie = %q", got)
	}
	for _, name := range []string{"keep-alive", "proxy-authenticate", "x-secret"} {
		if _, ok := res.header[http.CanonicalHeaderKey(name)]; ok {
			t.Errorf("the response passed on %s", name)
		}
	}

	seen := upstream.requests()
	if len(seen) != 1 {
		t.Fatalf("upstream saw %d requests", len(seen))
	}
	if seen[0].method != "GET" || seen[0].url != "/path?q=1" {
		t.Errorf("upstream saw %s %s", seen[0].method, seen[0].url)
	}
	if want := fmt.Sprintf("allowed.test:%d", upstream.port); seen[0].host != want {
		t.Errorf("upstream Host = %q, want %q", seen[0].host, want)
	}
	if got := seen[0].header.Get("x-keep"); got != "end-to-end" {
		t.Errorf("x-keep = %q", got)
	}
	for _, name := range []string{"proxy-authorization", "proxy-connection", "x-drop"} {
		if _, ok := seen[0].header[http.CanonicalHeaderKey(name)]; ok {
			t.Errorf("the request passed on %s", name)
		}
	}

	hWantDials(t, h, hDial{"127.0.0.1", upstream.port})
	h.match(h.decisionsN(1)[0], hCheck{method: hs("GET"), host: hs("allowed.test"), port: hi(upstream.port), decision: hs("allow"), rule: hs(fmt.Sprintf("allowed.test:%d", upstream.port)), resolved: []string{"127.0.0.1"}})
}

func TestProxyHTTPForwardsRequestBodiesFixedLengthAndChunked(t *testing.T) {
	upstream, h := hHTTPSetup(t, hAllowNameAndLoopback, nil)
	hViaProxy(t, h.port, "POST", fmt.Sprintf("http://allowed.test:%d/a", upstream.port), []string{"content-type: text/plain"}, "fixed body")
	hViaProxy(t, h.port, "PUT", fmt.Sprintf("http://allowed.test:%d/b", upstream.port), []string{"transfer-encoding: chunked"}, "chunked body")
	want := [][3]string{{"POST", "/a", "fixed body"}, {"PUT", "/b", "chunked body"}}
	if got := hSeen(upstream); !reflect.DeepEqual(got, want) {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
	if got := h.verdicts(); !reflect.DeepEqual(got, []string{"allow", "allow"}) {
		t.Errorf("decisions = %q", got)
	}
}

func TestProxyHTTPRefusesADeniedNameWith403WithoutResolvingIt(t *testing.T) {
	upstream, h := hHTTPSetup(t, hAllowNameAndLoopback, map[string][]string{"allowed.test": {"127.0.0.1"}, "evilallowed.test": {"127.0.0.1"}})
	res := hViaProxy(t, h.port, "GET", fmt.Sprintf("http://evilallowed.test:%d/", upstream.port), nil, "")
	if res.status != 403 {
		t.Fatalf("status %d", res.status)
	}
	target := fmt.Sprintf("evilallowed.test:%d", upstream.port)
	want := "SandboxShift egress: " + target + " is not allowed by this environment's egress policy\n" +
		"to allow it, add '" + target + "' to this environment's egress.allow in sandboxshift.yaml, then run sandboxshift apply\n"
	if res.body != want {
		t.Errorf("body %q, want %q", res.body, want)
	}
	if got := upstream.requests(); len(got) != 0 {
		t.Errorf("upstream saw %d requests", len(got))
	}
	hWantResolved(t, h)
	h.match(h.decisionsN(1)[0], hCheck{method: hs("GET"), host: hs("evilallowed.test"), decision: hs("deny"), reason: hs("no rule matches evilallowed.test")})
}

func TestProxyHTTPUsesPort80WhenTheURLHasNone(t *testing.T) {
	_, h := hHTTPSetup(t, hAllowNameOnly, nil)
	res := hViaProxy(t, h.port, "GET", "http://allowed.test/", nil, "")
	if res.status != 403 {
		t.Fatalf("status %d", res.status)
	}
	if !strings.Contains(res.body, "to allow it, add 'allowed.test' to this environment's egress.allow") {
		t.Errorf("body %q", res.body)
	}
	h.match(h.decisionsN(1)[0], hCheck{port: hi(80), decision: hs("deny"), reasonHas: "port 80 is not allowed"})
}

func TestProxyHTTPRefusesANameResolvingToAPrivateAddressWithoutAnAddressEntry(t *testing.T) {
	upstream, h := hHTTPSetup(t, hAllowNameOnly, nil)
	res := hViaProxy(t, h.port, "GET", fmt.Sprintf("http://allowed.test:%d/", upstream.port), nil, "")
	if res.status != 403 {
		t.Fatalf("status %d", res.status)
	}
	if !strings.Contains(res.body, "allowed.test resolves to a loopback, private or reserved address: only an address entry (CIDR) in egress.allow can open it") {
		t.Errorf("body %q", res.body)
	}
	if strings.Contains(res.body, "127.0.0.1") {
		t.Errorf("the refusal tells the sandbox the address: %q", res.body)
	}
	if got := upstream.requests(); len(got) != 0 {
		t.Errorf("upstream saw %d requests", len(got))
	}
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("deny"), resolved: []string{"127.0.0.1"}, reasonHas: "loopback"})
}

// ---- requests that are not proxied ----

func TestProxyHTTPRefusesRequestsThatAreNotProxied(t *testing.T) {
	cases := []struct {
		name   string
		raw    string
		status int
	}{
		{"origin-form", "GET /path HTTP/1.1\r\nHost: allowed.test\r\n\r\n", 400},
		{"https:// absolute-form", "GET https://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n", 400},
		{"userinfo in the URL", "GET http://evil.test@allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n", 400},
		{"a backslash in the authority", "GET http://evil.test\\@allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n", 400},
		{"TRACE", "TRACE http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n", 405},
		{"an upgrade", "GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 405},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			upstream, h := hHTTPSetup(t, hAllowDefaultPortsAndLoopback, nil)
			reply := hRawRequest(t, h.port, c.raw, false)
			if reply.status != c.status {
				t.Fatalf("status %d, want %d: %q", reply.status, c.status, reply.head)
			}
			reply.closed()
			if got := upstream.requests(); len(got) != 0 {
				t.Errorf("upstream saw %d requests", len(got))
			}
			hWantResolved(t, h)
			h.match(h.decisionsN(1)[0], hCheck{decision: hs("deny")})
		})
	}
}

func TestProxyHTTPLogsMalformedHTTPAsADenial(t *testing.T) {
	_, h := hHTTPSetup(t, func(int) []string { return []string{"allowed.test"} }, nil)
	reply := hRawRequest(t, h.port, "NOT HTTP AT ALL\r\n\r\n", false)
	if reply.status != 400 {
		t.Fatalf("status %d: %q", reply.status, reply.head)
	}
	h.match(h.decisionsN(1)[0], hCheck{decision: hs("deny"), reasonHas: "malformed request"})
}

// ---- a client that half-closes after its request ----

func TestProxyHTTPHalfCloseStillGetsTheWholeAnswerToAGet(t *testing.T) {
	upstream, h := hHTTPSetup(t, hAllowNameAndLoopback, nil)
	reply := hRawRequest(t, h.port, fmt.Sprintf("GET http://allowed.test:%d/half HTTP/1.1\r\nHost: allowed.test\r\n\r\n", upstream.port), true)
	if reply.status != 201 {
		t.Fatalf("status %d: %q", reply.status, reply.head)
	}
	// Go writes header names canonically (X-Upstream) where Node kept the upstream's spelling;
	// header names are case-insensitive, so the check is too.
	if !strings.Contains(strings.ToLower(reply.head), "\r\nx-upstream: yes") {
		t.Errorf("head %q has no x-upstream: yes", reply.head)
	}
	hWantWholeForward(t, h, upstream, reply, [3]string{"GET", "/half", ""})
}

func TestProxyHTTPHalfCloseStillForwardsTheBodyAndGetsTheWholeAnswerToAPost(t *testing.T) {
	upstream, h := hHTTPSetup(t, hAllowNameAndLoopback, nil)
	raw := fmt.Sprintf("POST http://allowed.test:%d/form HTTP/1.0\r\nHost: allowed.test\r\nContent-Length: 9\r\n\r\nname=half", upstream.port)
	reply := hRawRequest(t, h.port, raw, true)
	if reply.status != 201 {
		t.Fatalf("status %d: %q", reply.status, reply.head)
	}
	hWantWholeForward(t, h, upstream, reply, [3]string{"POST", "/form", "name=half"})
}

func TestProxyHTTPClosesAnIdleConnectionWhoseClientHalfClosesBeforeSendingAnything(t *testing.T) {
	_, h := hHTTPSetup(t, func(int) []string { return []string{"allowed.test"} }, nil)
	x := &hExchange{t: t, conn: hDialProxy(t, h.port)}
	if err := x.conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	x.headEnd = -4 // no head: after() is everything
	if got := x.closed(); len(got) != 0 {
		t.Errorf("the proxy answered %q", got)
	}
	if got := h.logLines(); len(got) != 0 {
		t.Errorf("decisions logged: %q", got)
	}
}
