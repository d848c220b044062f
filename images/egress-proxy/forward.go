// Absolute-form requests (`GET http://host/path`): the same check as a tunnel, then the request
// is sent to the checked address with a Host header built from the checked URL, so a client
// cannot aim a permitted connection at another virtual host with its own Host header.

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"

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
		hostRaw, port, ok = parseAuthorityDefault(authority, 80)
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
	if refused := p.refusedSinceCheck(checked, check.host, port, address); refused != "" {
		upstream.Close()
		return deny(403, "closed on policy reload: "+refused)
	}

	allowed := base
	allowed.Client, allowed.Method, allowed.Allow = clientAddr, method, true
	allowed.Reason = check.reason + "; connected to " + address
	p.record(allowed)
	c := &openConnection{client: clientAddr, method: method, host: check.host, port: port, address: address, rule: check.rule, close: func() {
		client.Close()
		upstream.Close()
	}}
	p.conns.add(c)
	defer p.conns.release(c)
	defer upstream.Close()

	out := &http.Request{
		Method:        req.Method,
		URL:           &url.URL{Opaque: path},
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        stripHopByHop(req.Header),
		Host:          host,
		ContentLength: req.ContentLength,
		Body:          io.NopCloser(countingReader{req.Body, func(n int) { p.conns.up(c, n) }}),
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
	written := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(upstream, 16*1024)
		err := out.Write(w)
		if err == nil {
			err = w.Flush()
		}
		written <- err
	}()
	resp, err := http.ReadResponse(bufio.NewReaderSize(upstream, 16*1024), out)
	if err != nil {
		// After the allow, a failing upstream is reported to the client as a broken response, not logged again.
		refuse(client, 502, publicMessage(502, shown, ""))
		return false
	}
	defer resp.Body.Close()
	resp.Header = stripHopByHop(resp.Header)
	resp.Body = io.NopCloser(countingReader{resp.Body, func(n int) { p.conns.down(c, n) }})
	resp.ProtoMajor, resp.ProtoMinor = 1, 1
	keep := !req.Close && !resp.Close
	resp.Close = !keep
	if err := resp.Write(client); err != nil {
		client.Close()
		return false
	}
	// The request body must be fully sent before the connection can carry another request.
	if werr := <-written; werr != nil {
		keep = false
	}
	if !keep {
		linger(client, true)
		return false
	}
	return true
}

func parseAuthorityDefault(text string, defaultPort int) (string, int, bool) {
	return policy.ParseAuthority(text, defaultPort)
}
