package panel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"regexp"
	"syscall"
)

// netFailure is a transport error as users see it: it names the
// dependency and what failed (DNS, connection, TLS, timeout), never a
// resolver or peer address, a dial detail or the request's query string.
// Unwrap keeps the original error, so the explainer still classifies it
// (errors.As *net.DNSError, x509 errors).
type netFailure struct {
	msg   string
	cause error
}

func (e *netFailure) Error() string { return e.msg }
func (e *netFailure) Unwrap() error { return e.cause }

// describeNetErr returns the user-facing form of a failed call to dep
// (e.g. "Jira").
func describeNetErr(dep string, err error) error {
	var dnsErr *net.DNSError
	var uaErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certErr x509.CertificateInvalidError
	var recErr tls.RecordHeaderError
	var opErr *net.OpError
	msg := dep + " could not be reached"
	switch {
	case errors.As(err, &dnsErr):
		what := "the DNS lookup failed"
		if dnsErr.IsNotFound {
			what = "no such host"
		} else if dnsErr.IsTimeout {
			what = "the DNS lookup timed out"
		}
		msg += ": " + dnsErr.Name + ": " + what
	case errors.As(err, &uaErr), errors.As(err, &hostErr), errors.As(err, &certErr), errors.As(err, &recErr):
		msg += ": the TLS handshake failed (x509 certificate not trusted or not for this host)"
	case errors.Is(err, context.DeadlineExceeded):
		msg = dep + " did not answer in time (timeout)"
	case errors.Is(err, syscall.ECONNREFUSED):
		msg += ": connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		msg += ": connection reset"
	case errors.As(err, &opErr) && opErr.Timeout():
		msg = dep + " did not answer in time (timeout)"
	}
	return &netFailure{msg: msg + ".", cause: err}
}

// isTransport reports whether err comes from the network (DNS, dial,
// TLS, timeout) rather than from an answer.
func isTransport(err error) bool {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var uaErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	return errors.As(err, &dnsErr) || errors.As(err, &opErr) || errors.As(err, &uaErr) || errors.As(err, &hostErr) ||
		errors.Is(err, context.DeadlineExceeded)
}

// queryInError matches the query string of a URL quoted in an error.
var queryInError = regexp.MustCompile(`\?[^\s"']*`)

// withoutQuery removes query strings from an error text before it is
// logged (a JQL query names people).
func withoutQuery(s string) string { return queryInError.ReplaceAllString(s, "") }
