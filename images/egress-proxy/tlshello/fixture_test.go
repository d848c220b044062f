package tlshello

// Real ClientHellos (internal/hellotest captures them from Go's TLS client); and a builder for
// hand-made ones the real client would never send.
// A port of 2a29766:test/unit/egress/client-hello-fixture.ts.

import (
	"bytes"
	"encoding/binary"
)

type extension struct {
	typ  int
	data []byte
}

// helloParts describes a hand-made ClientHello.
type helloParts struct {
	// serverNames are the host names in one server_name extension; nil for no server_name
	// extension (an empty, non-nil slice makes an extension with an empty list).
	serverNames []string
	// extensions are extra extensions, after server_name.
	extensions []extension
	// noExtensions builds the hello without an extensions block at all.
	noExtensions bool
}

func u16(n int) []byte { return []byte{byte(n >> 8), byte(n)} }
func u24(n int) []byte { return []byte{byte(n >> 16), byte(n >> 8), byte(n)} }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// clientHelloMessage is the ClientHello handshake message (type, length, body), not yet in a record.
// Server names are written byte for byte (the TypeScript fixture's latin1).
func clientHelloMessage(parts helloParts) []byte {
	var exts []byte
	if parts.serverNames != nil {
		var list []byte
		for _, name := range parts.serverNames {
			list = cat(list, []byte{0}, u16(len(name)), []byte(name))
		}
		data := cat(u16(len(list)), list)
		exts = cat(exts, u16(0), u16(len(data)), data)
	}
	for _, ext := range parts.extensions {
		exts = cat(exts, u16(ext.typ), u16(len(ext.data)), ext.data)
	}
	var extensionBlock []byte
	if !parts.noExtensions {
		extensionBlock = cat(u16(len(exts)), exts)
	}
	body := cat(
		[]byte{3, 3},
		bytes.Repeat([]byte{7}, 32),
		[]byte{0}, // no session id
		u16(2),
		[]byte{0x13, 0x01},
		[]byte{1, 0}, // null compression
		extensionBlock,
	)
	return cat([]byte{1}, u24(len(body)), body)
}

// inRecords wraps handshake bytes in TLS records of at most size bytes each (16384 when size is 0).
func inRecords(message []byte, size int) []byte {
	if size == 0 {
		size = 16384
	}
	var records []byte
	for at := 0; at < len(message); at += size {
		end := at + size
		if end > len(message) {
			end = len(message)
		}
		fragment := message[at:end]
		records = cat(records, []byte{22, 3, 1}, u16(len(fragment)), fragment)
	}
	return records
}

// handshakeOf is the handshake message inside a single captured record.
func handshakeOf(record []byte) []byte {
	return record[5 : 5+int(binary.BigEndian.Uint16(record[3:]))]
}
