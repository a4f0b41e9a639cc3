// Package httperr is the one error envelope of Connect Doctor's HTTP
// surface. Every error answer, from the lifecycle routes, the admin panel,
// the Forge Remote routes or a library user's net/http handler, is
//
//	{"error":{"code":"…","message":"…","hint":"…","requestId":"…"}}
//
// with a stable machine-readable code. Errors that know their own answer
// implement Coded (forge.Sentinel, oauth.Error, jira's typed errors); Abort
// and Write render them, and anything else becomes a 500 that names no
// internals.
package httperr

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
)

// Body is the JSON envelope of every error answer.
type Body struct {
	Error Detail `json:"error"`
}

// Detail is the inside of the envelope.
type Detail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// Canonical is the canonical request a Connect qsh was compared with,
	// on qsh mismatches only (it holds no secret: the caller sent it).
	Canonical string `json:"canonicalRequest,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// Hinter is an error that says what to change to make it go away.
type Hinter interface {
	error
	Hint() string
}

// Coded is an error that knows how it is answered: a stable code, a hint
// saying what to change, and an HTTP status.
type Coded interface {
	Hinter
	Code() string
	Status() int
}

// HintOf returns the hint of the first Hinter in err's tree, or "".
func HintOf(err error) string {
	var h Hinter
	if errors.As(err, &h) {
		return h.Hint()
	}
	return ""
}

// RequestIDHeader is the response header the server's middleware sets; the
// envelope repeats it so that a pasted body can be matched with the logs.
const RequestIDHeader = "X-Request-Id"

// CodeInternal is the code of an error that is not Coded.
const CodeInternal = "internal"

// Abort writes the envelope and stops the handler chain.
func Abort(c *gin.Context, status int, code, message, hint string) {
	c.AbortWithStatusJSON(status, Body{Error: Detail{Code: code, Message: message, Hint: hint,
		RequestID: c.Writer.Header().Get(RequestIDHeader)}})
}

// AbortDetail writes a fully built envelope (RequestID is filled in) and
// stops the handler chain.
func AbortDetail(c *gin.Context, status int, d Detail) {
	d.RequestID = c.Writer.Header().Get(RequestIDHeader)
	c.AbortWithStatusJSON(status, Body{Error: d})
}

// AbortErr answers err: a Coded error with its own status, code and hint,
// anything else with a 500 that does not repeat the error text.
func AbortErr(c *gin.Context, err error) {
	status, d := For(err)
	AbortDetail(c, status, d)
}

// For maps err to its status and envelope. The message of a Coded error is
// its text, which for the project's errors never carries a token or a
// secret; a dependency failure (5xx) says only which code failed.
func For(err error) (int, Detail) {
	var ce Coded
	if errors.As(err, &ce) {
		msg := err.Error()
		if ce.Status() >= 500 {
			msg = ce.Error()
		}
		return ce.Status(), Detail{Code: ce.Code(), Message: msg, Hint: ce.Hint()}
	}
	return http.StatusInternalServerError, Detail{Code: CodeInternal, Message: "internal error"}
}

// Status is the status For would answer err with.
func Status(err error) int {
	s, _ := For(err)
	return s
}

// Write answers err on a plain net/http ResponseWriter, for handlers
// outside gin (a library user's mux). A 401 carries a Bearer challenge.
func Write(w http.ResponseWriter, err error) {
	status, d := For(err)
	d.RequestID = w.Header().Get(RequestIDHeader)
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Body{Error: d})
}
