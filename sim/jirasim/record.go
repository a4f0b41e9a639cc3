package jirasim

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// RecordedRequest is one Jira REST request (/rest/…) the site received,
// for tests that count calls and retries. Admin page and bridge requests
// are not recorded.
type RecordedRequest struct {
	Time       time.Time
	Method     string
	Path       string // as sent, still escaped
	RawQuery   string
	AuthScheme string // "JWT", "Bearer", "Basic", another scheme, or "" for none
	AppKey     string // the app the credentials claim to be, when known
	AccountID  string // the acting user once authenticated (bot or impersonated user)
	Operation  string // the catalog operationId, when matched
	Status     int
	Fault      string // the fault that answered, if any
	Reason     string // why the simulator refused it, if it did
}

// Requests returns what the site received so far, oldest first.
func (s *Sim) Requests() []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ResetRequests forgets the recorded requests.
func (s *Sim) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// maxRecorded bounds the log of a long-running simulator.
const maxRecorded = 10000

func (s *Sim) record(rr RecordedRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) >= maxRecorded {
		s.requests = slices.Delete(s.requests, 0, len(s.requests)-maxRecorded+1)
	}
	s.requests = append(s.requests, rr)
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func authScheme(r *http.Request) string {
	a := r.Header.Get("Authorization")
	if a == "" {
		return ""
	}
	sch, _, _ := strings.Cut(a, " ")
	return sch
}
