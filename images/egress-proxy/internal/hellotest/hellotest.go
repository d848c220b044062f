// Package hellotest captures real ClientHellos for the tests of the proxy and of its tlshello
// package: Go's TLS client talks over a pipe to a server end that records its first record and
// hangs up. Only tests import it (the binary never does), and .dockerignore keeps it out of the
// image's build context.
package hellotest

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// Capture returns the first TLS record Go's TLS client sends for serverName. An empty serverName
// sends no server_name extension; so does an IP address.
func Capture(t testing.TB, serverName string) []byte {
	t.Helper()
	clientEnd, serverEnd := net.Pipe()
	defer clientEnd.Close()
	handshake := make(chan error, 1)
	go func() {
		conn := tls.Client(clientEnd, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
		handshake <- conn.Handshake()
	}()
	_ = serverEnd.SetReadDeadline(time.Now().Add(10 * time.Second))
	header := make([]byte, 5)
	if _, err := io.ReadFull(serverEnd, header); err != nil {
		t.Fatalf("reading the ClientHello record header: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint16(header[3:]))
	if _, err := io.ReadFull(serverEnd, body); err != nil {
		t.Fatalf("reading the ClientHello record: %v", err)
	}
	serverEnd.Close() // the server hangs up mid-handshake on purpose
	if err := <-handshake; err == nil {
		t.Fatal("the handshake succeeded against a server that hung up")
	}
	return append(header, body...)
}
