//go:build !linux

package main

import "net"

// waitReadable does not wait here: the read that follows waits with a buffer in hand.
func waitReadable(net.Conn) {}
