//go:build unix

package exampleapp

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// alive reports whether a kept connection is still open, without waiting:
// a peek that must not block finds nothing to read on a live connection
// (EAGAIN), and end of file on one the server closed. Any byte waiting
// (a reply nobody asked for) makes the connection unusable too.
func alive(c net.Conn) bool {
	// The last command's deadline has passed by now, and a read past its
	// deadline fails before it looks at the socket.
	if err := c.SetDeadline(time.Time{}); err != nil {
		return false
	}
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
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		live = errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK) // nothing to read, not closed
		return true                                                                    // done: never wait for data
	})
	return err == nil && live
}
