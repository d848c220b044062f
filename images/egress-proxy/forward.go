// Absolute-form requests (`GET http://host/path`): the same check as a tunnel, then the request
// is sent to the checked address with a Host header built from the checked URL, so a client
// cannot aim a permitted connection at another virtual host with its own Host header.

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sandboxshift.dev/egress/policy"
)

// forwardedMethods are the methods forwarded; TRACE and CONNECT-like oddities are not.
var forwardedMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

var absoluteHTTP = regexp.MustCompile(`(?i)^http://([^/?#]*)([^#]*)`)

// authorityChars is what an authority may hold: no userinfo (`@`), no backslashes, no percent-escapes.
var authorityChars = regexp.MustCompile(`^[A-Za-z0-9._\-:\[\]]+$`)

// hopByHop are headers that describe one connection, not the message: a proxy must not pass
// them on (RFC 9110 section 7.6.1). Proxy-* headers are the sandbox talking to the proxy and may
// carry credentials meant for it alone.
var hopByHop = map[string]bool{"Connection": true, "Keep-Alive": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Host": true}

func stripHopByHop(h http.Header) http.Header {
	named := map[string]bool{}
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				named[http.CanonicalHeaderKey(name)] = true
			}
		}
	}
	kept := http.Header{}
	for name, values := range h {
		if hopByHop[name] || named[name] || strings.HasPrefix(name, "Proxy-") {
			continue
		}
		kept[name] = values
	}
	return kept
}

func isForwarded(method string) bool {
	for _, m := range forwardedMethods {
		if m == method {
			return true
		}
	}
	return false
}

// countingReader counts what is read through it.
type countingReader struct {
	r     io.Reader
	count func(int)
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		c.count(n)
	}
	return n, err
}

// handleForward answers one absolute-form request; it reports whether the client connection may
// carry another request.
func (p *proxy) handleForward(client net.Conn, br *bufio.Reader, req *http.Request, clientAddr string) bool {
	checked := p.policy.Load()
	method := clip(req.Method, 16)
	refuseWith := func(status int, d Decision, target string, extra ...string) bool {
		d.Client, d.Method = clientAddr, method
		p.record(d)
		hint := ""
		if status == 403 && d.Host != nil && d.Port != nil {
			hint = refusalHint(*d.Host, *d.Port, d.Resolved)
		}
		refuse(client, status, publicMessage(status, target, hint), extra...)
		return false
	}

	rawURL := req.RequestURI
	if !isForwarded(req.Method) {
		return refuseWith(405, Decision{Reason: "method " + method + " is not proxied"}, "", "Allow: "+strings.Join(append(append([]string{}, forwardedMethods...), "CONNECT"), ", "))
	}
	if _, upgrade := req.Header["Upgrade"]; upgrade {
		return refuseWith(405, Decision{Reason: "protocol upgrades are not proxied; use CONNECT"}, "", "Allow: "+strings.Join(append(append([]string{}, forwardedMethods...), "CONNECT"), ", "))
	}
	parts := absoluteHTTP.FindStringSubmatch(rawURL)
	if parts == nil {
		return refuseWith(400, Decision{Reason: "request target is not an absolute http:// URL: " + clip(rawURL, 64)}, "")
	}
	authority := parts[1]
	hostRaw, port, ok := "", 0, false
	if authorityChars.MatchString(authority) {
		hostRaw, port, ok = policy.ParseAuthority(authority, 80)
	}
	if !ok {
		return refuseWith(400, Decision{Host: strPtr(clip(authority, 256)), Reason: "URL authority is not host[:port]"}, "")
	}
	path := parts[2]
	if path == "" {
		path = "/"
	} else if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}

	p.stats.waiting(1)
	check := checkDestination(checked, hostRaw, port, p.resolve, p.timeout)
	p.stats.waiting(-1)
	host := clip(hostRaw, 256)
	if check.hasHost {
		host = check.host.Text()
	}
	shown := fmt.Sprintf("%s:%d", host, port)
	base := Decision{Host: strPtr(host), Port: intPtr(port), Rule: check.rule, Resolved: check.resolved}
	deny := func(status int, reason string) bool {
		d := base
		d.Reason = reason
		return refuseWith(status, d, shown)
	}
	if !check.ok {
		return deny(check.status, check.reason)
	}

	upstream, address, status, err := p.connectChecked(check, port)
	if err != nil {
		return deny(status, "could not connect: "+err.Error())
	}
	allowed := base
	allowed.Client, allowed.Method, allowed.Allow = clientAddr, method, true
	allowed.Reason = check.reason + "; connected to " + address
	c := &openConnection{client: clientAddr, method: method, host: check.host, port: port, address: address, rule: check.rule, close: func() {
		client.Close()
		upstream.Close()
	}}
	// The policy may have been reloaded while this request resolved and connected.
	if refused := p.conns.admit(c, func() string { return p.refusedSinceCheck(checked, check.host, port, address) }, func() { p.record(allowed) }); refused != "" {
		upstream.Close()
		return deny(403, "closed on policy reload: "+refused)
	}
	defer p.conns.release(c)
	defer upstream.Close()

	// A client that waits for 100 Continue before its body gets it from the proxy, as Node's http
	// server sent it for the TS proxy; the upstream's own informational answers are not passed on.
	if req.ProtoAtLeast(1, 1) && strings.Contains(strings.ToLower(req.Header.Get("Expect")), "100-continue") {
		if _, err := client.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
			client.Close()
			return false
		}
	}

	body := &requestBody{r: req.Body, count: func(n int) { p.conns.up(c, n) }}
	out := &http.Request{
		Method:        req.Method,
		URL:           upstreamURL(path),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        stripHopByHop(req.Header),
		Host:          host,
		ContentLength: req.ContentLength,
		Body:          io.NopCloser(body),
	}
	if port != 80 {
		out.Host = shown
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""} // Go would add its own; the sandbox's request goes as sent
	}
	if req.ContentLength == 0 {
		out.Body = nil
	}
	// Once the request is sent, a client that resets its connection while the answer is awaited
	// ends the exchange, as the TS proxy destroyed the upstream when the client's response closed;
	// a FIN is a half-close and ends nothing.
	watch := &clientWatch{conn: client}
	written := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(upstream, 16*1024)
		err := out.Write(w)
		if err == nil {
			err = w.Flush()
		}
		if err != nil && body.failed.Load() {
			// The client went away mid-body: the request can never be whole, and the upstream would
			// wait for the rest for ever (the TS proxy destroyed it too).
			upstream.Close()
		}
		if err == nil && watch.start() {
			if _, perr := br.Peek(1); perr != nil && perr != io.EOF && !errors.Is(perr, os.ErrDeadlineExceeded) {
				upstream.Close()
			}
		}
		written <- err
	}()
	// The upstream's head is held to the limit a request's is (Node's http client had the same
	// 16 KiB): without one, a head that never ends grows in memory until the proxy is killed.
	upBudget := &headerBudget{r: upstream}
	upReader := bufio.NewReaderSize(upBudget, 16*1024)
	var resp *http.Response
	for {
		upBudget.remaining = maxHeaderBytes + upReader.Buffered()
		resp, err = http.ReadResponse(upReader, out)
		// 1xx answers other than 101 come before the real one (Node's http client kept them from the TS proxy).
		if err != nil || resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == 101 {
			break
		}
	}
	upBudget.remaining = -1
	watch.stop()
	if err != nil || resp.StatusCode == 101 {
		// After the allow, a failing upstream is reported to the client as a broken response, not
		// logged again. A 101 answers an upgrade nobody asked for (upgrades are refused).
		refuse(client, 502, publicMessage(502, shown, ""))
		return false
	}
	defer resp.Body.Close()
	resp.Header = stripHopByHop(resp.Header)
	resp.Body = io.NopCloser(countingReader{resp.Body, func(n int) { p.conns.down(c, n) }})
	resp.ProtoMajor, resp.ProtoMinor = 1, 1
	keep := !req.Close && !resp.Close
	if !req.ProtoAtLeast(1, 1) {
		// An HTTP/1.0 client cannot read chunked framing: the body goes as it is, ended by the close.
		resp.TransferEncoding = nil
		keep = false
	}
	resp.Close = !keep
	write := resp.Write
	if out.Method == http.MethodHead || resp.StatusCode == 204 || resp.StatusCode == 304 {
		write = func(w io.Writer) error { return writeHeadAlone(w, resp) }
	}
	if err := write(client); err != nil {
		client.Close()
		return false
	}
	// The exchange is over once the answer is whole, as it was for the TS proxy (which destroyed
	// the upstream request when the response closed): a request body still on its way upstream
	// goes no further. Waiting for it would let an upstream that answered early and stopped
	// reading hold the exchange, counted open, for ever, even after the client left; and a client
	// told the connection ends need not send the rest (RFC 9112 section 9.3), so it is not waited
	// for then either.
	upstream.Close()
	if !keep {
		linger(client, true)
		<-written
		return false
	}
	// The request body must have been read to its end before the connection can carry another request.
	if werr := <-written; werr != nil {
		linger(client, true)
		return false
	}
	_ = client.SetReadDeadline(time.Time{}) // the watch's
	return true
}

// writeHeadAlone writes resp's head and nothing after it, for an answer that cannot have a body
// (to a HEAD, a 204, a 304), as the TS proxy sent one: Go's Response.Write ends a chunked one with
// a last chunk (a bare CRLF after a HEAD), which a client on a kept connection reads as the start
// of the next answer.
func writeHeadAlone(w io.Writer, resp *http.Response) error {
	var b bytes.Buffer
	if err := resp.Write(&b); err != nil {
		return err
	}
	head := b.Bytes()
	if end := bytes.Index(head, []byte("\r\n\r\n")); end >= 0 {
		head = head[:end+4]
	}
	_, err := w.Write(head)
	return err
}

// requestBody is the client's request body on its way upstream, counted; failed is set when it
// could not be read to its end.
type requestBody struct {
	r      io.Reader
	count  func(int)
	failed atomic.Bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		b.count(n)
	}
	if err != nil && err != io.EOF {
		b.failed.Store(true)
	}
	return n, err
}

// clientWatch lets the request's writer watch the client, once the request is sent, until the
// answer's head is in: stop ends a watch under way by making its read time out at once.
type clientWatch struct {
	mu       sync.Mutex
	conn     net.Conn
	stopped  bool
	watching bool
}

func (w *clientWatch) start() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.watching = !w.stopped
	return w.watching
}

func (w *clientWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.watching {
		_ = w.conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// upstreamURL is the request target sent upstream: the path and query as the client wrote them.
// url.URL writes an Opaque that starts with `//` as `scheme:` and the rest (`://host/x` here, with
// no scheme), so such a path goes as Path and RawPath instead, which url.URL writes as they are
// as long as RawPath is a valid escaping of Path.
func upstreamURL(target string) *url.URL {
	if !strings.HasPrefix(target, "//") {
		return &url.URL{Opaque: target}
	}
	rawPath, query, hasQuery := strings.Cut(target, "?")
	u := &url.URL{Path: rawPath, RawQuery: query, ForceQuery: hasQuery && query == ""}
	if decoded, err := url.PathUnescape(rawPath); err == nil {
		u.Path, u.RawPath = decoded, rawPath
	}
	return u
}
