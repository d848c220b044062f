package main

// Policy reloads with connections open, on real loopback sockets: what the new list still allows
// keeps flowing (nothing paused, nothing cut short); what it refuses is closed and logged. A port
// of 2a29766:test/unit/egress/proxy-reload.test.ts.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"reflect"
	"testing"
	"time"

	"sandboxshift.dev/egress/internal/hellotest"
)

const (
	hPiece  = 64 * 1024
	hPieces = 40
)

// hStartSlowDownload starts a server that, once a client has sent anything, sends hPieces pieces
// 10 ms apart (piece i filled with byte i%256), then ends its side. What the client sends is
// read and dropped throughout, so the end is a FIN, never a reset.
func hStartSlowDownload(t *testing.T) *hServer {
	t.Helper()
	return hListen(t, func(conn net.Conn) {
		first := make(chan struct{})
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			buf := make([]byte, 4096)
			once := false
			for {
				_, err := conn.Read(buf)
				if !once {
					once = true
					close(first)
				}
				if err != nil {
					return
				}
			}
		}()
		<-first
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for sent := 0; sent < hPieces; sent++ {
			select {
			case <-tick.C:
			case <-drained:
				return // the proxy closed the connection
			}
			if _, err := conn.Write(bytes.Repeat([]byte{byte(sent % 256)}, hPiece)); err != nil {
				return
			}
		}
		_ = conn.(*net.TCPConn).CloseWrite()
		<-drained
	})
}

func hReloadProxy(t *testing.T, allow []string) *hHarness {
	t.Helper()
	return hStartProxy(t, hOptions{allow: allow, names: map[string][]string{"allowed.test": {"127.0.0.1"}, "other.test": {"127.0.0.1"}}})
}

// hDownload opens a tunnel to host:port and sends its ClientHello, which starts the download.
func hDownload(t *testing.T, h *hHarness, host string, port int) *hExchange {
	t.Helper()
	return hTunnel(t, h, fmt.Sprintf("%s:%d", host, port), hellotest.Capture(t, host))
}

func hWantReload(t *testing.T, h *hHarness, allow []string, wantKept, wantClosed int) {
	t.Helper()
	if kept, closed := h.proxy.reload(hParsePolicy(t, allow)); kept != wantKept || closed != wantClosed {
		t.Errorf("reload kept %d, closed %d; want %d, %d", kept, closed, wantKept, wantClosed)
	}
}

func TestProxyReloadLeavesADownloadTheNewPolicyStillAllowsRunning(t *testing.T) {
	server := hStartSlowDownload(t)
	h := hReloadProxy(t, []string{fmt.Sprintf("allowed.test:%d", server.port), "127.0.0.0/8"})
	tunnel := hDownload(t, h, "allowed.test", server.port)
	before := len(tunnel.bytes(hPiece))

	hWantReload(t, h, []string{fmt.Sprintf("allowed.test:%d", server.port), "new.test", "127.0.0.0/8"}, 1, 0)
	all := tunnel.closed()
	if before >= hPiece*hPieces {
		t.Errorf("the whole download (%d bytes) had arrived before the reload", before)
	}
	if len(all) != hPiece*hPieces {
		t.Fatalf("got %d bytes, want %d", len(all), hPiece*hPieces)
	}
	if last := all[len(all)-1]; last != (hPieces-1)%256 {
		t.Errorf("last byte %d, want %d", last, (hPieces-1)%256)
	}
	if got := h.verdicts(); !reflect.DeepEqual(got, []string{"allow"}) {
		t.Errorf("decisions = %q", got)
	}
	hWaitFor(t, "the proxy to release the tunnel", func() bool { return h.proxy.conns.size() == 0 })
}

func TestProxyReloadClosesAndLogsADownloadWhoseHostWasRemovedAndKeepsTheOther(t *testing.T) {
	server := hStartSlowDownload(t)
	h := hReloadProxy(t, []string{fmt.Sprintf("allowed.test:%d", server.port), fmt.Sprintf("other.test:%d", server.port), "127.0.0.0/8"})
	removed := hDownload(t, h, "allowed.test", server.port)
	kept := hDownload(t, h, "other.test", server.port)
	removed.bytes(hPiece)
	kept.bytes(hPiece)

	hWantReload(t, h, []string{fmt.Sprintf("other.test:%d", server.port), "127.0.0.0/8"}, 1, 1)
	if n := len(removed.closed()); n >= hPiece*hPieces {
		t.Errorf("the removed download got all %d bytes", n)
	}
	if n := len(kept.closed()); n != hPiece*hPieces {
		t.Errorf("the kept download got %d bytes, want %d", n, hPiece*hPieces)
	}
	ds := h.decisionsN(3)
	if !hLoopbackClient.MatchString(ds[2].Client) {
		t.Errorf("client = %q", ds[2].Client)
	}
	h.match(ds[2], hCheck{
		method:   hs("CONNECT"),
		host:     hs("allowed.test"),
		port:     hi(server.port),
		decision: hs("deny"),
		rule:     hs(fmt.Sprintf("allowed.test:%d", server.port)),
		reason:   hs("closed on policy reload: no rule matches allowed.test"),
	})
}

func TestProxyReloadClosesAConnectionWhoseAddressIsNoLongerOpenWithoutResolvingAgain(t *testing.T) {
	server := hStartSlowDownload(t)
	h := hReloadProxy(t, []string{fmt.Sprintf("allowed.test:%d", server.port), "127.0.0.0/8"})
	tunnel := hDownload(t, h, "allowed.test", server.port)
	tunnel.bytes(hPiece)
	// The name is still allowed, but 127.0.0.1 is loopback and no address entry opens it now.
	hWantReload(t, h, []string{fmt.Sprintf("allowed.test:%d", server.port)}, 0, 1)
	tunnel.closed()
	hWantResolved(t, h, "allowed.test")
	ds := h.decisionsN(2)
	want := "closed on policy reload: allowed.test is connected to 127.0.0.1 is loopback (127.0.0.0/8) and no address entry inside that range allows it"
	if ds[1].Reason != want {
		t.Errorf("reason = %q, want %q", ds[1].Reason, want)
	}
}

func TestProxyReloadClosesAForwardedRequestTheNewPolicyRefusesAndLogsIt(t *testing.T) {
	// A response that never finishes: headers and a first piece, then nothing.
	server := hListen(t, func(conn net.Conn) {
		buf := make([]byte, 4096)
		if _, err := conn.Read(buf); err != nil {
			return
		}
		if _, err := conn.Write([]byte("HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\nfirst")); err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, conn)
	})
	port := server.port
	h := hReloadProxy(t, []string{fmt.Sprintf("allowed.test:%d", port), "127.0.0.0/8"})
	exchange := hRawRequest(t, h.port, fmt.Sprintf("GET http://allowed.test:%d/file HTTP/1.1\r\nHost: allowed.test:%d\r\n\r\n", port, port), false)
	if exchange.status != 200 {
		t.Fatalf("status %d: %q", exchange.status, exchange.head)
	}
	exchange.bytes(5)
	open := hOpenConnections(h.proxy)
	want := []hOpen{{method: "GET", host: "allowed.test", port: port, address: "127.0.0.1", rule: fmt.Sprintf("allowed.test:%d", port)}}
	if !reflect.DeepEqual(open, want) {
		t.Errorf("open connections = %+v, want %+v", open, want)
	}

	hWantReload(t, h, nil, 0, 1)
	exchange.closed()
	h.match(h.decisionsN(2)[1], hCheck{method: hs("GET"), host: hs("allowed.test"), decision: hs("deny"), reason: hs("closed on policy reload: no rule matches allowed.test")})
}
