package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/tollgate/tollgate/gateway/upstream"
	"github.com/valyala/fasthttp"
)

// failure is why the gateway, not the upstream, produced the response.
type failure uint8

const (
	failNone failure = iota
	failNoRoute
	failNoService
	failServiceDisabled
	failNoHealthyTarget
	failNameResolution
	failConnect
	failConnectTimeout
	failBadResponse
	failTimeout
	failClientGone
	failInternal
)

// failureInfo is what a failure turns into: the status and message the
// client gets (Kong's), and the error class of the log record.
type failureInfo struct {
	status  int
	message string
	class   string
	// retry: the request never reached the upstream, so another try is
	// safe whatever the method.
	retry bool
}

// failures maps every failure to its response. Messages are Kong's, so that
// clients written against Kong read the same bodies.
var failures = [...]failureInfo{
	failNone:            {status: 200},
	failNoRoute:         {404, "no Route matched with those values", "route_not_found", false},
	failNoService:       {503, "no Service found with those values", "no_service", false},
	failServiceDisabled: {503, "Service unavailable", "service_disabled", false},
	failNoHealthyTarget: {503, "failure to get a peer from the ring-balancer", "no_healthy_target", false},
	failNameResolution:  {503, "name resolution failed", "name_resolution", true},
	failConnect:         {502, "An invalid response was received from the upstream server", "connect", true},
	// nginx answers 504 to a connect timeout too ("upstream timed out
	// while connecting"); it is still a connect failure and retried.
	failConnectTimeout: {504, "The upstream server is timing out", "timeout", true},
	failBadResponse:    {502, "An invalid response was received from the upstream server", "bad_response", false},
	failTimeout:        {504, "The upstream server is timing out", "timeout", false},
	failClientGone:     {499, "Client Closed Request", "client_closed", false},
	failInternal:       {500, "An unexpected error occurred", "internal", false},
}

func (f failure) info() failureInfo { return failures[f] }

// connectError marks an error of establishing a connection to a target
// (DNS, TCP connect, TLS handshake): nothing of the request was sent.
type connectError struct {
	addr string
	err  error
}

func (e *connectError) Error() string { return "connect to " + e.addr + ": " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// errClientGone is reported when reading the request body from the client
// failed while it was being sent upstream.
var errClientGone = errors.New("client closed the connection")

// classify is the one place that maps errors of the request path to
// failures (and so to statuses).
func classify(err error) failure {
	if err == nil {
		return failNone
	}
	if errors.Is(err, upstream.ErrNoHealthyTarget) {
		return failNoHealthyTarget
	}
	if errors.Is(err, errClientGone) {
		return failClientGone
	}
	var ce *connectError
	if errors.As(err, &ce) {
		var dns *net.DNSError
		if errors.As(err, &dns) {
			return failNameResolution
		}
		if isTimeout(err) {
			return failConnectTimeout
		}
		return failConnect
	}
	if isTimeout(err) {
		return failTimeout
	}
	if errors.Is(err, fasthttp.ErrDialTimeout) {
		return failConnectTimeout
	}
	return failBadResponse
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, fasthttp.ErrTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// staleConn reports errors that a pooled keep-alive connection closed by
// the upstream while idle produces; an idempotent request without a
// streamed body is retried once on them, as net/http's Transport does.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// outcome is what a failure tells passive health checks about the target.
func (f failure) outcome() upstream.Outcome {
	switch f {
	case failTimeout, failConnectTimeout:
		return upstream.Outcome{Kind: upstream.Timeout}
	case failClientGone:
		// Not the target's fault.
		return upstream.Outcome{Kind: upstream.Success}
	}
	return upstream.Outcome{Kind: upstream.TCPFailure}
}

// appendErrorBody appends Kong's JSON error body, with the request id as
// Kong 3 adds it. Messages and ids need no escaping.
func appendErrorBody(dst []byte, message, requestID string) []byte {
	dst = append(dst, `{"message":"`...)
	dst = append(dst, message...)
	dst = append(dst, `","request_id":"`...)
	dst = append(dst, requestID...)
	return append(dst, `"}`...)
}
