package main

import (
	"net"
	"syscall"
)

// waitReadable returns once conn has something to read (bytes, its end, or an error), or once
// it is closed, without holding a buffer while it waits: a peek of one byte that does not block,
// repeated each time the poller says the socket is readable.
func waitReadable(conn net.Conn) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	var b [1]byte
	_ = raw.Read(func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if err == syscall.EINTR {
				continue
			}
			return err != syscall.EAGAIN
		}
	})
}
