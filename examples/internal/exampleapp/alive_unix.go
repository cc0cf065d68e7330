//go:build unix

package exampleapp

import (
	"errors"
	"net"
	"syscall"
)

// alive reports whether a kept connection is still open, without waiting:
// a peek that must not block finds nothing to read on a live connection
// (EAGAIN), and end of file on one the server closed. Any byte waiting
// (a reply nobody asked for) makes the connection unusable too.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	live := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		live = n < 0 && errors.Is(rerr, syscall.EAGAIN)
		return true // done: never wait for data
	})
	return err == nil && live
}
