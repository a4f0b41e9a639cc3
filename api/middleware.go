package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// Context keys set by the middleware.
const (
	ctxRequestID = "cd.requestID"
	ctxClientKey = "cd.clientKey"
	ctxVerified  = "cd.verified"
	ctxViewer    = "cd.viewer"
	ctxAuthError = "cd.authError"
)

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// withRequestID takes a sane incoming X-Request-Id or makes one, and echoes
// it on the response.
func withRequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if !saneID(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(ctxRequestID, id)
		c.Header("X-Request-Id", id)
		c.Next()
	}
}

func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.') {
			return false
		}
	}
	return true
}

// accessLog writes one structured line per request: the route template
// (never the raw URL, whose query may hold a JWT), status, latency and
// tenant. Tokens, secrets and bodies are never logged.
func accessLog(log *slog.Logger, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "(unmatched)"
		}
		status := c.Writer.Status()
		lat := time.Since(start)
		m.observe(route, c.Request.Method, status, lat)
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case status >= 400:
			level = slog.LevelWarn
		}
		if !log.Enabled(c.Request.Context(), level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("latency", lat),
			slog.String("request_id", requestID(c)),
		}
		ck := c.GetString(ctxClientKey)
		if ck == "" {
			ck = viewerClientKey(c)
		}
		if ck != "" {
			attrs = append(attrs, slog.String("client_key", ck))
		}
		if code := c.GetString(ctxAuthError); code != "" {
			attrs = append(attrs, slog.String("auth_error", code))
		}
		log.LogAttrs(c.Request.Context(), level, "request", attrs...)
	}
}

// recoverJSON turns a panic into a JSON 500 and logs the stack.
func recoverJSON(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic", slog.String("route", c.FullPath()), slog.String("panic", fmt.Sprint(r)),
					slog.String("stack", string(debug.Stack())), slog.String("request_id", requestID(c)))
				if !c.Writer.Written() {
					httperr.Abort(c, http.StatusInternalServerError, "internal_error", "The server hit an unexpected error.", "Retry; if it persists, report the request id.")
				} else {
					c.Abort()
				}
			}
		}()
		c.Next()
	}
}

// securityHeaders sets headers every answer gets.
func securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		c.Next()
	}
}

// viewerClientKey is the clientKey of the request's viewer (a Forge
// route's, or the Connect token's), without building a Viewer for the log.
func viewerClientKey(c *gin.Context) string {
	if v, ok := c.Get(ctxViewer); ok {
		if vv, _ := v.(*tenant.Viewer); vv != nil && vv.Tenant != nil {
			return vv.Tenant.ClientKey
		}
	}
	if cv := Verified(c); cv != nil {
		return cv.Tenant.ClientKey
	}
	return ""
}
