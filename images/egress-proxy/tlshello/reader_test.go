package tlshello

// ReadClientHello over net.Pipe, loopback TCP and scripted connections: a hello in pieces, with
// bytes already read, cut short by a close, a timeout, an error, or too many bytes.

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"sandboxshift.dev/egress/internal/hellotest"
)

// recordingConn records the read deadlines set on a connection and the buffer sizes read with.
type recordingConn struct {
	net.Conn
	mu        sync.Mutex
	deadlines []time.Time
	reads     []int
}

func (c *recordingConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	c.reads = append(c.reads, len(p))
	c.mu.Unlock()
	return c.Conn.Read(p)
}

func (c *recordingConn) SetReadDeadline(deadline time.Time) error {
	c.mu.Lock()
	c.deadlines = append(c.deadlines, deadline)
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(deadline)
}

// checkDeadlineCleared fails unless a deadline was set and the last one set was cleared.
func (c *recordingConn) checkDeadlineCleared(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.deadlines) == 0 || !c.deadlines[len(c.deadlines)-1].IsZero() {
		t.Fatalf("read deadlines set %v: the last is not cleared", c.deadlines)
	}
}

// pipe returns the proxy's end of a net.Pipe, recording, and the client's end.
func pipe(t *testing.T) (*recordingConn, net.Conn) {
	t.Helper()
	proxyEnd, clientEnd := net.Pipe()
	t.Cleanup(func() {
		proxyEnd.Close()
		clientEnd.Close()
	})
	return &recordingConn{Conn: proxyEnd}, clientEnd
}

// send writes each piece with its own Write (net.Pipe delivers each to its own Read), then closes
// the connection if asked. Write errors are expected once the reader has given up and closed.
func send(conn net.Conn, closeAfter bool, pieces ...[]byte) {
	go func() {
		for _, piece := range pieces {
			if _, err := conn.Write(piece); err != nil {
				return
			}
		}
		if closeAfter {
			conn.Close()
		}
	}()
}

// split cuts data at the given offsets.
func split(data []byte, cuts ...int) [][]byte {
	var pieces [][]byte
	at := 0
	for _, cut := range cuts {
		pieces = append(pieces, data[at:cut])
		at = cut
	}
	return append(pieces, data[at:])
}

func expectRead(t *testing.T, got, want Read) {
	t.Helper()
	if got.OK != want.OK || got.ServerName != want.ServerName || got.HasServerName != want.HasServerName || got.Reason != want.Reason {
		t.Fatalf("got {OK:%v ServerName:%q HasServerName:%v Reason:%q}, want {OK:%v ServerName:%q HasServerName:%v Reason:%q}",
			got.OK, got.ServerName, got.HasServerName, got.Reason, want.OK, want.ServerName, want.HasServerName, want.Reason)
	}
	if !bytes.Equal(got.Bytes, want.Bytes) {
		t.Fatalf("got %d bytes % x..., want %d bytes % x...", len(got.Bytes), truncateForLog(got.Bytes), len(want.Bytes), truncateForLog(want.Bytes))
	}
}

func readOK(name string, data []byte) Read {
	return Read{OK: true, ServerName: name, HasServerName: name != "", Bytes: data}
}

func readFailed(reason string, data []byte) Read { return Read{Reason: reason, Bytes: data} }

const closedEarly = "client closed before sending a whole ClientHello"

func TestReadSplitOverWrites(t *testing.T) {
	hello := inRecords(handshakeOf(hellotest.Capture(t, "allowed.test")), 100)
	conn, client := pipe(t)
	pieces := split(hello, 1, 5, 6, 50, 200)
	send(client, false, pieces...)
	start := time.Now()
	expectRead(t, ReadClientHello(conn, nil, 5*time.Second), readOK("allowed.test", hello))

	conn.checkDeadlineCleared(t)
	if len(conn.deadlines) != 2 || conn.deadlines[0].Before(start.Add(5*time.Second)) || conn.deadlines[0].After(time.Now().Add(5*time.Second)) {
		t.Fatalf("read deadlines %v: want one 5s after the start, then cleared", conn.deadlines)
	}
	if len(conn.reads) != len(pieces) {
		t.Fatalf("%d reads for %d writes", len(conn.reads), len(pieces))
	}
	for _, size := range conn.reads {
		if size != 4096 {
			t.Fatalf("read with a %d-byte buffer, want 4096", size)
		}
	}
}

func TestReadNoServerName(t *testing.T) {
	hello := hellotest.Capture(t, "")
	conn, client := pipe(t)
	send(client, false, split(hello, 3)...)
	expectRead(t, ReadClientHello(conn, nil, 5*time.Second), readOK("", hello))
	conn.checkDeadlineCleared(t)
}

func TestReadAfterHead(t *testing.T) {
	hello := hellotest.Capture(t, "api.github.com")
	conn, client := pipe(t)
	head := make([]byte, 10, 64)
	copy(head, hello)
	send(client, false, split(hello[10:], 20)...)
	expectRead(t, ReadClientHello(conn, head, 5*time.Second), readOK("api.github.com", hello))
	conn.checkDeadlineCleared(t)
	if !bytes.Equal(head[:cap(head)], cat(hello[:10], make([]byte, 54))) {
		t.Fatal("ReadClientHello wrote into head's spare capacity")
	}
}

func TestReadWholeHelloInHead(t *testing.T) {
	hello := hellotest.Capture(t, "allowed.test")
	conn := &scriptedConn{t: t}
	expectRead(t, ReadClientHello(conn, hello, time.Second), readOK("allowed.test", hello))
	conn.checkDeadlineCleared(t)

	conn = &scriptedConn{t: t}
	http := []byte("GET / HTTP/1.1\r\n")
	expectRead(t, ReadClientHello(conn, http, time.Second), readFailed("not a valid TLS ClientHello: not a TLS handshake record", http))
	conn.checkDeadlineCleared(t)
}

func TestReadKeepsBytesAfterTheHello(t *testing.T) {
	hello := hellotest.Capture(t, "allowed.test")
	withEarlyData := cat(hello, []byte{23, 3, 3, 0, 1, 0})
	conn, client := pipe(t)
	send(client, false, split(withEarlyData, 7)...)
	expectRead(t, ReadClientHello(conn, nil, 5*time.Second), readOK("allowed.test", withEarlyData))
}

func TestReadInvalidStream(t *testing.T) {
	http := []byte("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
	conn, client := pipe(t)
	send(client, false, http)
	expectRead(t, ReadClientHello(conn, nil, 5*time.Second), readFailed("not a valid TLS ClientHello: not a TLS handshake record", http))
	conn.checkDeadlineCleared(t)

	message := clientHelloMessage(helloParts{serverNames: []string{"a.test"}})
	first, alert := inRecords(message[:10], 0), []byte{21, 3, 3, 0, 2, 1, 0}
	conn, client = pipe(t)
	send(client, false, first, alert, inRecords(message[10:], 0))
	expectRead(t, ReadClientHello(conn, nil, 5*time.Second),
		readFailed("not a valid TLS ClientHello: ClientHello interrupted by a non-handshake record", cat(first, alert)))
	conn.checkDeadlineCleared(t)
}

// Over loopback TCP, not net.Pipe: a pipe whose other end has closed refuses SetReadDeadline
// (io.ErrClosedPipe), which a TCP socket never does for a peer's close, so over a pipe the
// outcome depended on whether the close came before the reader set its deadline.
func TestReadEarlyClose(t *testing.T) {
	hello := hellotest.Capture(t, "allowed.test")
	conn, client := loopback(t)
	send(client, true, split(hello[:40], 5)...)
	expectRead(t, ReadClientHello(conn, nil, 5*time.Second), readFailed(closedEarly, hello[:40]))
	conn.checkDeadlineCleared(t)

	conn, client = loopback(t)
	send(client, true)
	expectRead(t, ReadClientHello(conn, nil, 5*time.Second), readFailed(closedEarly, []byte{}))
	conn.checkDeadlineCleared(t)
}

func TestReadTimeout(t *testing.T) {
	hello := hellotest.Capture(t, "allowed.test")
	conn, client := pipe(t)
	send(client, false, hello[:40])
	start := time.Now()
	expectRead(t, ReadClientHello(conn, nil, 50*time.Millisecond), readFailed("no whole ClientHello within 50 ms", hello[:40]))
	if elapsed := time.Since(start); elapsed < 50*time.Millisecond || elapsed > 5*time.Second {
		t.Fatalf("timed out after %v, want 50ms", elapsed)
	}
	conn.checkDeadlineCleared(t)

	// The deadline is really gone: the connection reads the rest of the stream afterwards.
	send(client, false, hello[40:])
	rest := make([]byte, len(hello)-40)
	if _, err := io.ReadFull(conn, rest); err != nil || !bytes.Equal(rest, hello[40:]) {
		t.Fatalf("reading after the timeout: %v", err)
	}
}

func TestReadTimeoutWording(t *testing.T) {
	cases := []struct {
		timeout time.Duration
		err     error
		want    string
	}{
		{1500 * time.Microsecond, os.ErrDeadlineExceeded, "no whole ClientHello within 1.5 ms"},
		{2 * time.Second, timeoutError{}, "no whole ClientHello within 2000 ms"},
		{0, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, "no whole ClientHello within 0 ms"},
	}
	for _, c := range cases {
		conn := &scriptedConn{t: t, steps: []step{{data: []byte{22, 3}}, {err: c.err}}}
		expectRead(t, ReadClientHello(conn, nil, c.timeout), readFailed(c.want, []byte{22, 3}))
		conn.checkDeadlineCleared(t)
	}
}

func TestReadZeroTimeoutOverPipe(t *testing.T) {
	conn, _ := pipe(t)
	expectRead(t, ReadClientHello(conn, nil, 0), readFailed("no whole ClientHello within 0 ms", []byte{}))
	conn.checkDeadlineCleared(t)
}

// An incomplete hello that grows without bound: a 16 KiB hello announced, sent a byte per record.
func endlessHello() []byte {
	return inRecords(cat([]byte{1}, u24(MaxClientHelloBytes), []byte{3, 3}, make([]byte, MaxClientHelloBytes-2)), 1)
}

func TestReadTooLarge(t *testing.T) {
	stream := endlessHello()
	if ParseClientHello(stream[:2*MaxClientHelloBytes+1]) != incomplete {
		t.Fatal("the stream is not an incomplete hello")
	}
	conn, client := pipe(t)
	send(client, false, stream)
	got := ReadClientHello(conn, nil, 5*time.Second)
	if n := len(got.Bytes); n <= 2*MaxClientHelloBytes || n > 2*MaxClientHelloBytes+4096 {
		t.Fatalf("gave up after %d bytes", n)
	}
	expectRead(t, got, readFailed("ClientHello too large", stream[:len(got.Bytes)]))
	conn.checkDeadlineCleared(t)

	// Too much in head already: no read at all.
	head := stream[:2*MaxClientHelloBytes+1]
	scripted := &scriptedConn{t: t}
	expectRead(t, ReadClientHello(scripted, head, time.Second), readFailed("ClientHello too large", head))
	// And exactly the limit in head is not yet too much.
	scripted = &scriptedConn{t: t, steps: []step{{data: stream[2*MaxClientHelloBytes : 2*MaxClientHelloBytes+1]}}}
	expectRead(t, ReadClientHello(scripted, stream[:2*MaxClientHelloBytes], time.Second), readFailed("ClientHello too large", head))
}

func TestReadErrors(t *testing.T) {
	hello := hellotest.Capture(t, "allowed.test")
	conn := &scriptedConn{t: t, steps: []step{{data: hello[:10]}, {err: errors.New("connection reset by peer")}}}
	expectRead(t, ReadClientHello(conn, nil, time.Second), readFailed("client error before the ClientHello: connection reset by peer", hello[:10]))
	conn.checkDeadlineCleared(t)

	conn = &scriptedConn{t: t, deadlineErr: errors.New("deadlines not supported")}
	expectRead(t, ReadClientHello(conn, hello[:10], time.Second), readFailed("client error before the ClientHello: deadlines not supported", hello[:10]))

	// The proxy closes its own end while reading.
	// net.Pipe's Write returns once the reader has read every byte, so the close comes after the
	// ten bytes are in the reader's hands, however slow the machine.
	piped, client := pipe(t)
	go func() {
		if _, err := client.Write(hello[:10]); err == nil {
			piped.Close()
		}
	}()
	expectRead(t, ReadClientHello(piped, nil, 5*time.Second), readFailed("client error before the ClientHello: io: read/write on closed pipe", hello[:10]))
}

func TestReadDataTogetherWithEOF(t *testing.T) {
	hello := hellotest.Capture(t, "allowed.test")
	conn := &scriptedConn{t: t, steps: []step{{data: hello[:10]}, {}, {data: hello[10:], err: io.EOF}}}
	expectRead(t, ReadClientHello(conn, nil, time.Second), readOK("allowed.test", hello))
	conn.checkDeadlineCleared(t)

	conn = &scriptedConn{t: t, steps: []step{{data: hello[:10], err: io.EOF}}}
	expectRead(t, ReadClientHello(conn, nil, time.Second), readFailed(closedEarly, hello[:10]))

	conn = &scriptedConn{t: t, steps: []step{{data: []byte("GET / HTTP"), err: io.EOF}}}
	expectRead(t, ReadClientHello(conn, nil, time.Second), readFailed("not a valid TLS ClientHello: not a TLS handshake record", []byte("GET / HTTP")))
}

// loopback returns the proxy's end of a loopback TCP connection, recording, and the client's end.
func loopback(t *testing.T) (*recordingConn, *net.TCPConn) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	client, err := net.Dial("tcp", listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	proxy, err := listener.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	return &recordingConn{Conn: proxy}, client.(*net.TCPConn)
}

func TestReadOverTCP(t *testing.T) {
	t.Run("a real client", func(t *testing.T) {
		conn, client := loopback(t)
		handshake := make(chan error, 1)
		go func() {
			handshake <- tls.Client(client, &tls.Config{ServerName: "allowed.test", InsecureSkipVerify: true}).Handshake()
		}()
		got := ReadClientHello(conn, nil, 5*time.Second)
		conn.checkDeadlineCleared(t)
		if !got.OK || got.ServerName != "allowed.test" || !got.HasServerName || got.Reason != "" {
			t.Fatalf("got %+v", got)
		}
		if want := complete("allowed.test"); ParseClientHello(got.Bytes) != want {
			t.Fatalf("the bytes read do not parse as %+v", want)
		}
		conn.Close()
		if err := <-handshake; err == nil {
			t.Fatal("the handshake succeeded against a proxy that hung up")
		}
	})

	t.Run("split over writes", func(t *testing.T) {
		hello := inRecords(handshakeOf(hellotest.Capture(t, "allowed.test")), 50)
		conn, client := loopback(t)
		go func() {
			for _, piece := range split(hello, 2, 7, 60, 61) {
				if _, err := client.Write(piece); err != nil {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		expectRead(t, ReadClientHello(conn, nil, 5*time.Second), readOK("allowed.test", hello))
		conn.checkDeadlineCleared(t)
	})

	t.Run("the client closes", func(t *testing.T) {
		hello := hellotest.Capture(t, "allowed.test")
		conn, client := loopback(t)
		if _, err := client.Write(hello[:40]); err != nil {
			t.Fatal(err)
		}
		if err := client.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		expectRead(t, ReadClientHello(conn, nil, 5*time.Second), readFailed(closedEarly, hello[:40]))
		conn.checkDeadlineCleared(t)
	})

	t.Run("the client stalls", func(t *testing.T) {
		hello := hellotest.Capture(t, "allowed.test")
		conn, client := loopback(t)
		if _, err := client.Write(hello[:40]); err != nil {
			t.Fatal(err)
		}
		expectRead(t, ReadClientHello(conn, nil, 100*time.Millisecond), readFailed("no whole ClientHello within 100 ms", hello[:40]))
		conn.checkDeadlineCleared(t)
		if _, err := client.Write(hello[40:]); err != nil {
			t.Fatal(err)
		}
		rest := make([]byte, len(hello)-40)
		if _, err := io.ReadFull(conn, rest); err != nil {
			t.Fatalf("reading after the timeout: %v", err)
		}
	})

	t.Run("the client resets", func(t *testing.T) {
		conn, client := loopback(t)
		if err := client.SetLinger(0); err != nil {
			t.Fatal(err)
		}
		client.Close()
		got := ReadClientHello(conn, nil, 5*time.Second)
		if got.OK || !strings.HasPrefix(got.Reason, "client error before the ClientHello: ") || !strings.HasSuffix(got.Reason, "connection reset by peer") {
			t.Fatalf("got %+v", got)
		}
		conn.checkDeadlineCleared(t)
	})

	t.Run("too much", func(t *testing.T) {
		stream := endlessHello()
		conn, client := loopback(t)
		go func() { _, _ = client.Write(stream) }()
		got := ReadClientHello(conn, nil, 5*time.Second)
		if n := len(got.Bytes); n <= 2*MaxClientHelloBytes || n > 2*MaxClientHelloBytes+4096 {
			t.Fatalf("gave up after %d bytes", n)
		}
		expectRead(t, got, readFailed("ClientHello too large", stream[:len(got.Bytes)]))
		conn.checkDeadlineCleared(t)
	})
}

// step is one Read of a scriptedConn: data, then err.
type step struct {
	data []byte
	err  error
}

// scriptedConn answers reads from its steps and fails the test on a read past them.
type scriptedConn struct {
	t           *testing.T
	steps       []step
	deadlineErr error // returned by SetReadDeadline for a non-zero deadline
	deadlines   []time.Time
}

func (c *scriptedConn) Read(p []byte) (int, error) {
	if len(c.steps) == 0 {
		c.t.Error("read past the script")
		return 0, errors.New("read past the script")
	}
	next := c.steps[0]
	c.steps = c.steps[1:]
	if len(next.data) > len(p) {
		c.t.Fatalf("a %d-byte step for a %d-byte read", len(next.data), len(p))
	}
	return copy(p, next.data), next.err
}

func (c *scriptedConn) SetReadDeadline(deadline time.Time) error {
	c.deadlines = append(c.deadlines, deadline)
	if !deadline.IsZero() && c.deadlineErr != nil {
		return c.deadlineErr
	}
	return nil
}

func (c *scriptedConn) checkDeadlineCleared(t *testing.T) {
	t.Helper()
	if len(c.deadlines) == 0 || !c.deadlines[len(c.deadlines)-1].IsZero() {
		t.Fatalf("read deadlines set %v: the last is not cleared", c.deadlines)
	}
	if len(c.steps) != 0 {
		t.Fatalf("%d scripted reads left", len(c.steps))
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
