package tlshello

// Collects the first bytes a client sends into a tunnel until they hold a whole ClientHello, so the
// server name can be checked before a single byte goes upstream.

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

// maxBuffered is enough for the largest ClientHello even when split into many small records, each
// with a header.
const maxBuffered = 2 * MaxClientHelloBytes

// readChunk is how much ReadClientHello asks the connection for at a time.
const readChunk = 4 * 1024

// Read is the result of ReadClientHello. When OK, ServerName and HasServerName hold the
// ClientHello's server name (HasServerName false: it sent none); otherwise Reason says why not.
// Bytes is everything read from the connection, head included, whatever the outcome; when OK the
// caller must send it upstream before anything else it reads from the connection.
type Read struct {
	OK            bool
	ServerName    string
	HasServerName bool
	Bytes         []byte
	Reason        string
}

// ReadClientHello reads from conn, after the bytes already in head, until a ClientHello parses,
// fails to parse, the buffer exceeds 2*MaxClientHelloBytes ("ClientHello too large"), EOF
// ("client closed before sending a whole ClientHello"), a read error ("client error before the
// ClientHello: <err>") or the deadline passes ("no whole ClientHello within N ms"). It reads no
// further than the chunk that completes the ClientHello, and clears conn's read deadline before it
// returns. head is copied, never modified.
func ReadClientHello(conn interface {
	io.Reader
	SetReadDeadline(time.Time) error
}, head []byte, timeout time.Duration) (result Read) {
	buffered := append([]byte(nil), head...)
	defer func() {
		result.Bytes = buffered
		// Clearing cannot usefully fail here: a connection that refuses it is closed, and the
		// caller finds that out on its next read or write.
		_ = conn.SetReadDeadline(time.Time{})
	}()

	evaluate := func() (Read, bool) {
		parsed := ParseClientHello(buffered)
		switch {
		case parsed.Status == Complete:
			return Read{OK: true, ServerName: parsed.ServerName, HasServerName: parsed.HasServerName}, true
		case parsed.Status == Invalid:
			return Read{Reason: "not a valid TLS ClientHello: " + parsed.Reason}, true
		case len(buffered) > maxBuffered:
			return Read{Reason: "ClientHello too large"}, true
		}
		return Read{}, false
	}

	if len(buffered) > 0 {
		if done, ok := evaluate(); ok {
			return done
		}
	}
	if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return Read{Reason: "client error before the ClientHello: " + err.Error()}
	}
	chunk := make([]byte, readChunk)
	for {
		n, err := conn.Read(chunk)
		if n > 0 {
			buffered = append(buffered, chunk[:n]...)
			if done, ok := evaluate(); ok {
				return done
			}
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF):
			return Read{Reason: "client closed before sending a whole ClientHello"}
		case isTimeout(err):
			return Read{Reason: "no whole ClientHello within " + milliseconds(timeout) + " ms"}
		default:
			return Read{Reason: "client error before the ClientHello: " + err.Error()}
		}
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// milliseconds writes a duration as the TypeScript `${timeoutMs}` does: 250, or 0.5 for 500µs.
func milliseconds(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64)
}
