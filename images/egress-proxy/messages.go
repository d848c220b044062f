// What the sandbox is told when it is refused. Details (resolved addresses, rules) stay in the
// proxy's log.

package main

import (
	"fmt"
	"net"
	"strings"
	"time"
)

var statusText = map[int]string{400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed", 502: "Bad Gateway", 504: "Gateway Timeout"}

func publicMessage(status int, target, hint string) string {
	switch status {
	case 403:
		if hint != "" {
			hint += "\n"
		}
		return fmt.Sprintf("SandboxShift egress: %s is not allowed by this environment's egress policy\n%s", target, hint)
	case 405:
		return "SandboxShift egress: only CONNECT and absolute-form http:// requests are proxied\n"
	case 502, 504:
		return fmt.Sprintf("SandboxShift egress: could not reach %s\n", target)
	default:
		return "SandboxShift egress: bad request\n"
	}
}

// refusalHint says what the person reading a refusal can do about it: the entry to add to the
// allow list (a name on 443/80, host:port on another port, an address as /32 or /128), or, when
// the name is allowed but resolves to a guarded address, that only an address entry opens it.
func refusalHint(host string, port int, resolved []string) string {
	if len(resolved) > 0 {
		// The addresses stay in the decision log: the sandbox is not told what lies behind a name.
		return host + " resolves to a loopback, private or reserved address: only an address entry (CIDR) in egress.allow can open it"
	}
	bare := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	entry := host
	if ip := net.ParseIP(bare); ip != nil && !strings.Contains(bare, "%") {
		if strings.Contains(bare, ":") {
			entry = bare + "/128"
		} else {
			entry = host + "/32"
		}
	} else if port != 443 && port != 80 {
		entry = fmt.Sprintf("%s:%d", host, port)
	}
	return fmt.Sprintf("to allow it, add '%s' to this environment's egress.allow in sandboxshift.yaml, then run sandboxshift apply", entry)
}

// refuse answers on the raw connection and closes it. The writing side is shut first and what
// the client still sends is read away for a moment, so a client that already sent more (a
// ClientHello right behind its CONNECT) still reads the answer rather than a reset.
func refuse(conn net.Conn, status int, body string, extraHeaders ...string) {
	text := statusText[status]
	if text == "" {
		text = "Error"
	}
	head := []string{fmt.Sprintf("HTTP/1.1 %d %s", status, text), "Content-Type: text/plain; charset=utf-8", fmt.Sprintf("Content-Length: %d", len(body)), "Connection: close"}
	head = append(head, extraHeaders...)
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := conn.Write([]byte(strings.Join(head, "\r\n") + "\r\n\r\n" + body))
	linger(conn, err == nil)
}

// linger ends a connection gently: FIN first, then a short read of what is still in flight.
func linger(conn net.Conn, wrote bool) {
	if tcp, ok := conn.(interface{ CloseWrite() error }); ok && wrote {
		_ = tcp.CloseWrite()
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 4096)
		for total := 0; total < 1<<20; {
			n, err := conn.Read(buf)
			total += n
			if err != nil {
				break
			}
		}
	}
	_ = conn.Close()
}
