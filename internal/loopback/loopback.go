// Package loopback says whether a host is this machine, for the one
// exception every URL rule of this library makes: plain http is refused
// except on loopback, where development and tests run.
package loopback

import (
	"net"
	"strings"
)

// Host reports whether host (a URL's Hostname: no port, no brackets) is
// "localhost" or a loopback IP address (127.0.0.0/8, ::1).
func Host(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
