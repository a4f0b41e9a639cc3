// Package keyset finds the RSA public key that signed a token, by kid. It has
// one shape, Source, with two implementations, as go-oidc has one KeySet with
// a remote and a static one: Static, a fixed map (tests, pinned keys), and
// Remote, keys fetched over HTTP and cached. Remote is used by both
// protocols: Connect's install key server serves one PEM key per kid, Forge
// serves a JWKS with every key; the protocol packages supply the fetch (URL,
// parsing, their error sentinels) and Remote supplies the rest: one fetch at
// a time per kid or set shared by every caller, a bounded positive and
// negative cache, a minimum interval between fetches, an optional rate limit
// and concurrency bound, a fetch timeout detached from any one caller, and an
// injected clock.
package keyset

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
)

// Source finds the key for a kid. connect.KeySource and forge.KeySource are
// this interface.
type Source interface {
	Key(ctx context.Context, kid string) (*rsa.PublicKey, error)
}

// Errors of this package; match them with errors.Is. The protocol packages
// translate them into their own sentinels.
var (
	// ErrUnknownKID: the key source does not have the kid.
	ErrUnknownKID = errors.New("keyset: unknown kid")
	// ErrUnavailable: the keys could not be fetched.
	ErrUnavailable = errors.New("keyset: keys unavailable")
	// ErrTooLarge: a key server's answer exceeds the size limit.
	ErrTooLarge = errors.New("keyset: answer too large")
)

// Static is a fixed Source, e.g. for tests.
type Static map[string]*rsa.PublicKey

// Key implements Source; an absent kid is a *Error with Reason NotFound.
func (s Static) Key(_ context.Context, kid string) (*rsa.PublicKey, error) {
	if k, ok := s[kid]; ok {
		return k, nil
	}
	return nil, &Error{Reason: NotFound, KID: kid}
}

// Reason says why a Source returned no key.
type Reason int

// The reasons of an *Error.
const (
	// NotFound: the kid is not among the keys (fetched just now, or
	// within the minimum interval between fetches).
	NotFound Reason = iota + 1
	// Recent: the last fetch for this kid (or set) failed, or answered
	// that it does not know the kid, and is not retried yet; Err is that
	// fetch's error.
	Recent
	// Limited: the fetch rate limit refused a new fetch.
	Limited
	// Busy: no fetch slot came free before the fetch timeout.
	Busy
	// Canceled: the caller's context ended while it waited for a fetch;
	// Err is the context's error.
	Canceled
)

// Error is the error of a Source that has no key for KID without a fetch
// error of its own to report. It matches ErrUnknownKID (NotFound, Limited)
// or ErrUnavailable (Busy, Canceled) and unwraps to Err.
type Error struct {
	Reason Reason
	KID    string
	Err    error
}

func (e *Error) Error() string {
	var s string
	switch e.Reason {
	case NotFound:
		s = fmt.Sprintf("keyset: kid %q not found", e.KID)
	case Recent:
		s = fmt.Sprintf("keyset: kid %q: a recent fetch failed", e.KID)
	case Limited:
		s = fmt.Sprintf("keyset: kid %q not fetched: fetch rate limit", e.KID)
	case Busy:
		s = fmt.Sprintf("keyset: kid %q: too many fetches in flight", e.KID)
	case Canceled:
		s = fmt.Sprintf("keyset: kid %q: gave up waiting for the fetch", e.KID)
	default:
		s = fmt.Sprintf("keyset: kid %q", e.KID)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the reason's sentinel and Err.
func (e *Error) Unwrap() []error {
	var errs []error
	switch e.Reason {
	case NotFound, Limited:
		errs = append(errs, ErrUnknownKID)
	case Busy, Canceled:
		errs = append(errs, ErrUnavailable)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Unknown marks a fetch error as the key server's answer that it does not
// know the kid: Remote keeps it for NegativeTTL. The error reads and
// unwraps as err, and also matches ErrUnknownKID.
func Unknown(err error) error { return unknown{err} }

type unknown struct{ err error }

func (u unknown) Error() string   { return u.err.Error() }
func (u unknown) Unwrap() []error { return []error{u.err, ErrUnknownKID} }
