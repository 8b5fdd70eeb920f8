//go:build !linux

package proxy

import "net"

// rawIO is Linux only (rawio_linux.go); elsewhere connections use their own
// Read and Write.
type rawIO struct{ net.Conn }

func newRawIO(net.Conn) *rawIO { return nil }
