// `CONNECT host:port`: check, connect to the checked address, answer 200, then, for anything but
// port 80, hold the client's bytes until its ClientHello names the host it asked for. Only then
// does anything flow. Every exit before the relay closes both sides; once relayed, each direction
// ends on its own (a client that half-closes after its request still gets the answer).

package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"sandboxshift.dev/egress/policy"
	"sandboxshift.dev/egress/tlshello"
)

// plainHTTPPort is the one port let through a tunnel without a ClientHello.
const plainHTTPPort = 80

// relayBufferBytes is each direction's copy buffer.
const relayBufferBytes = 64 * 1024

var relayBuffers = sync.Pool{New: func() interface{} { b := make([]byte, relayBufferBytes); return &b }}

// bufferedConn reads through the request reader (which may hold bytes sent after the CONNECT)
// and sets deadlines on the connection: what the ClientHello is read from.
type bufferedConn struct {
	*bufio.Reader
	conn net.Conn
}

func (b bufferedConn) SetReadDeadline(t time.Time) error { return b.conn.SetReadDeadline(t) }

func (p *proxy) handleConnect(client net.Conn, br *bufio.Reader, req *http.Request, clientAddr string) {
	checked := p.policy.Load()
	target := req.RequestURI
	hostRaw, port, ok := policy.ParseAuthority(target, 0)
	if !ok {
		p.record(Decision{Client: clientAddr, Method: "CONNECT", Host: strPtr(clip(target, 256)), Reason: "CONNECT target is not host:port"})
		refuse(client, 400, publicMessage(400, "", ""))
		return
	}
	p.stats.waiting(1)
	check := checkDestination(checked, hostRaw, port, p.resolve, p.timeout)
	p.stats.waiting(-1)
	shown := clip(hostRaw, 256)
	if check.hasHost {
		shown = check.host.Text()
	}
	base := Decision{Client: clientAddr, Method: "CONNECT", Host: strPtr(shown), Port: intPtr(port), Rule: check.rule, Resolved: check.resolved}
	deny := func(reason string) {
		d := base
		d.Reason = reason
		p.record(d)
	}
	if !check.ok {
		deny(check.reason)
		refuse(client, check.status, publicMessage(check.status, shown+":"+strconv.Itoa(port), refusalHint(shown, port, check.resolved)))
		return
	}

	upstream, address, status, err := p.connectChecked(check, port)
	if err != nil {
		deny("could not connect: " + err.Error())
		refuse(client, status, publicMessage(status, shown+":"+strconv.Itoa(port), ""))
		return
	}
	closeBoth := func() {
		client.Close()
		upstream.Close()
	}
	if _, err := client.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n")); err != nil {
		deny("client went away while connecting")
		closeBoth()
		return
	}

	var first []byte
	if port != plainHTTPPort {
		hello := tlshello.ReadClientHello(bufferedConn{br, client}, nil, p.hello)
		problem := hello.Reason
		if hello.OK {
			problem = serverNameProblem(hello.ServerName, hello.HasServerName, check.host)
		}
		if !hello.OK || problem != "" {
			deny(problem)
			closeBoth()
			return
		}
		first = hello.Bytes
	}

	// What the request reader already holds past the ClientHello (or past the CONNECT, on port 80)
	// goes first; from then on the tunnel reads the connection itself, so the reader's buffer is
	// not kept for as long as the tunnel lives.
	if n := br.Buffered(); n > 0 {
		rest, _ := br.Peek(n)
		first = append(first, rest...)
	}

	allowed := base
	allowed.Allow = true
	allowed.Reason = check.reason + "; connected to " + address
	c := &openConnection{client: clientAddr, method: "CONNECT", host: check.host, port: port, address: address, rule: check.rule, close: closeBoth}
	// The policy may have been reloaded while this tunnel connected and waited for its ClientHello.
	refused := p.conns.admit(c, func() string { return p.refusedSinceCheck(checked, check.host, port, address) }, func() { p.record(allowed) })
	if refused != "" {
		deny("closed on policy reload: " + refused)
		closeBoth()
		return
	}
	if len(first) > 0 {
		p.conns.up(c, len(first))
		if _, err := upstream.Write(first); err != nil {
			p.conns.release(c)
			closeBoth()
			return
		}
	}
	p.relay(c, client, upstream)
}

// relay copies each direction on its own. A half-close is not a close: when one side stops
// sending, its FIN is passed on and the other direction keeps flowing. A direction that ends any
// other way (reset, error) takes the whole tunnel down.
func (p *proxy) relay(c *openConnection, client, upstream net.Conn) {
	done := make(chan bool, 2)
	go func() { done <- p.copyHalf(upstream, client, func(n int) { p.conns.up(c, n) }) }()
	go func() { done <- p.copyHalf(client, upstream, func(n int) { p.conns.down(c, n) }) }()
	for i := 0; i < 2; i++ {
		if clean := <-done; !clean {
			client.Close()
			upstream.Close()
		}
	}
	client.Close()
	upstream.Close()
	p.conns.release(c)
}

// copyHalf copies until from ends, counting bytes, then passes the end on as a half-close.
// It reports whether the direction ended cleanly (EOF read, everything written). A copy buffer is
// taken only once from has something to read and given back after each write, so an idle tunnel
// holds none.
func (p *proxy) copyHalf(to, from net.Conn, count func(int)) bool {
	for {
		waitReadable(from)
		bp := relayBuffers.Get().(*[]byte)
		n, err := from.Read(*bp)
		var werr error
		if n > 0 {
			count(n)
			_, werr = to.Write((*bp)[:n])
		}
		relayBuffers.Put(bp)
		if werr != nil {
			return false
		}
		if err == io.EOF {
			if tcp, ok := to.(interface{ CloseWrite() error }); ok {
				_ = tcp.CloseWrite()
			}
			return true
		}
		if err != nil {
			return false
		}
	}
}

// serverNameProblem is "" when the ClientHello names the CONNECT host; otherwise why the tunnel is refused.
func serverNameProblem(serverName string, has bool, host policy.Host) string {
	if !has {
		// A TLS client does not send an address as a server name (RFC 6066), so an address target
		// reached through an address entry is the one case where no name is expected.
		if host.IsIP {
			return ""
		}
		return "ClientHello has no server name (SNI); " + host.Text() + " requires one"
	}
	if named, ok := policy.NormalizeHost(serverName); ok && policy.SameHost(named, host) {
		return ""
	}
	return "ClientHello names " + clip(serverName, 256) + ", not " + host.Text()
}
