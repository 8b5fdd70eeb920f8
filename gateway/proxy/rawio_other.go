//go:build !linux

package proxy

import (
	"io"
	"net"
)

// socketIO is c itself: raw socket I/O (rawio_linux.go) is Linux only.
func socketIO(c net.Conn) io.ReadWriter { return c }
