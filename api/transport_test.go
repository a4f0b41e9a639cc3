package api_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The transport matrix (issue 16 items 9 and 14): what the app answers on
// the wire, below the routes: request framing a proxy may read differently
// (RFC 9112 §6.1, §6.3, §5.2), and the metrics endpoint and its labels.
// Each case returns what went wrong ("" when the defence held).

type transportCase struct {
	name   string
	attack string
	run    func(t *testing.T, h *harness) string
}

// rawExchange writes raw to a fresh TCP connection to the app and reads
// until the server closes it (or 2 s pass). It returns the status lines of
// every response and whether the server closed the connection.
func rawExchange(t *testing.T, h *harness, raw string) (statuses []string, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.addr, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	br := bufio.NewReader(conn)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			timeout := false
			if e, ok := err.(net.Error); ok {
				ne = e
				timeout = ne.Timeout()
			}
			return statuses, !timeout
		}
		statuses = append(statuses, resp.Status)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// smuggle builds a POST whose framing headers are given, followed by a
// body that, read as chunked, ends at once and leaves a second request.
func smuggle(h *harness, framing string) string {
	host := strings.TrimPrefix(h.addr, "http://")
	inner := "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	body := "0\r\n\r\n" + inner
	return "POST /api/explain HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\n" +
		strings.ReplaceAll(framing, "{len}", fmt.Sprint(len(body))) + "\r\n" + body
}

// refusedAndClosed wants one 400 (or 501 for an encoding the server does
// not implement) and the connection closed, so nothing after the
// ambiguous request is ever answered.
func refusedAndClosed(t *testing.T, h *harness, raw string) string {
	statuses, closed := rawExchange(t, h, raw)
	switch {
	case len(statuses) != 1:
		return fmt.Sprintf("%d responses %q, want exactly one (a second answer means the smuggled request was served)", len(statuses), statuses)
	case !strings.HasPrefix(statuses[0], "400") && !strings.HasPrefix(statuses[0], "501"):
		return fmt.Sprintf("answered %q, want 400", statuses[0])
	case !closed:
		return "the connection stayed open after an ambiguous request"
	}
	return ""
}

func scrape(t *testing.T, h *harness, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", h.addr+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var methodLabel = regexp.MustCompile(`connect_doctor_http_requests_total\{method="([^"]*)"`)

func transportCases() []transportCase {
	return []transportCase{
		{"CL and TE chunked", "Content-Length and Transfer-Encoding: chunked together (RFC 9112 §6.1: a smuggling attempt)", func(t *testing.T, h *harness) string {
			return refusedAndClosed(t, h, smuggle(h, "Content-Length: {len}\r\nTransfer-Encoding: chunked\r\n"))
		}},
		{"TE chunked and CL", "the same headers in the other order", func(t *testing.T, h *harness) string {
			return refusedAndClosed(t, h, smuggle(h, "Transfer-Encoding: chunked\r\nContent-Length: {len}\r\n"))
		}},
		{"CL and TE upper case", "Transfer-Encoding: CHUNKED beside Content-Length", func(t *testing.T, h *harness) string {
			return refusedAndClosed(t, h, smuggle(h, "Content-Length: {len}\r\nTransfer-Encoding: CHUNKED\r\n"))
		}},
		{"CL zero and TE", "Content-Length: 0 with a chunked body", func(t *testing.T, h *harness) string {
			return refusedAndClosed(t, h, smuggle(h, "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n"))
		}},
		{"duplicate CL differing", "two Content-Length values", func(t *testing.T, h *harness) string {
			return refusedAndClosed(t, h, smuggle(h, "Content-Length: 5\r\nContent-Length: {len}\r\n"))
		}},
		{"CL list", "Content-Length: n, m in one field", func(t *testing.T, h *harness) string {
			return refusedAndClosed(t, h, smuggle(h, "Content-Length: 5, {len}\r\n"))
		}},
		{"TE chunked, identity", "a transfer coding list a proxy may read differently", func(t *testing.T, h *harness) string {
			return refusedAndClosed(t, h, smuggle(h, "Transfer-Encoding: chunked, identity\r\n"))
		}},
		{"TE twice", "Transfer-Encoding repeated", func(t *testing.T, h *harness) string {
			return refusedAndClosed(t, h, smuggle(h, "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"))
		}},
		{"obs-fold TE", "Transfer-Encoding folded onto a continuation line (obs-fold, RFC 9112 §5.2)", func(t *testing.T, h *harness) string {
			return refusedAndClosed(t, h, smuggle(h, "Content-Length: {len}\r\nTransfer-Encoding:\r\n chunked\r\n"))
		}},
		{"obs-fold other header", "any folded header line", func(t *testing.T, h *harness) string {
			return refusedAndClosed(t, h, smuggle(h, "Content-Length: {len}\r\nX-Note: a\r\n b\r\n"))
		}},
		{"leak: no network detail in refusals", "checks whose Jira calls fail at the network: the answers name the dependency, never a resolver, address or dial detail (issue 16 item 12)", func(t *testing.T, h *harness) string {
			if r := h.signedLifecycle("/installed", payload(ckA, secretA, "installed"), nil); r.StatusCode != 204 {
				return fmt.Sprintf("install: %d", r.StatusCode)
			}
			leak := regexp.MustCompile(`dial tcp|lookup \S+ on |\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b|\]:\d+`)
			for _, as := range []string{"app", "user"} {
				body := mustJSON(map[string]any{"method": "GET", "path": "/rest/api/3/myself?expand=groups", "as": as})
				req, _ := http.NewRequest("POST", h.addr+"/api/checks", strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "JWT "+mintHS(hsHeader, ctxClaims(ckA), []byte(secretA)))
				a := send(t, req)
				if m := leak.FindString(a.body); m != "" {
					return fmt.Sprintf("as %s: the answer (%d %s) carries %q: %.400s", as, a.StatusCode, a.code, m, a.body)
				}
				if !strings.Contains(a.body, "Jira") && !strings.Contains(a.body, "authorization server") {
					return fmt.Sprintf("as %s: the answer does not name the dependency: %.300s", as, a.body)
				}
			}
			return ""
		}},
		{"metrics not public by default", "GET /metrics on the public listener without METRICS_TOKEN", func(t *testing.T, h *harness) string {
			if code, body := scrape(t, h, ""); code != http.StatusNotFound || strings.Contains(body, "go_goroutines") {
				return fmt.Sprintf("/metrics answered %d on the public listener", code)
			}
			return ""
		}},
		{"metrics labels bounded", "300 requests with random methods and unmatched paths", func(t *testing.T, h *harness) string {
			th := newHarnessEnv(t, "", newFakeAtlassian(t), "", map[string]string{"METRICS_TOKEN": testMetricsToken})
			for i := range 300 {
				m := fmt.Sprintf("X%08X", rand.Uint32())
				req, _ := http.NewRequest(m, fmt.Sprintf("%s/nowhere-%d", th.addr, i), nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
			_, body := scrape(t, th, testMetricsToken)
			methods := map[string]bool{}
			routes := map[string]bool{}
			for _, m := range methodLabel.FindAllStringSubmatch(body, -1) {
				methods[m[1]] = true
			}
			for _, l := range strings.Split(body, "\n") {
				if strings.HasPrefix(l, "connect_doctor_http_requests_total{") {
					_, r, _ := strings.Cut(l, `route="`)
					r, _, _ = strings.Cut(r, `"`)
					routes[r] = true
				}
			}
			if len(methods) > 10 || len(routes) > 10 {
				return fmt.Sprintf("%d method and %d route labels after 300 random requests", len(methods), len(routes))
			}
			return ""
		}},
		{"metrics token required", "GET /metrics with no or a wrong bearer token when METRICS_TOKEN is set", func(t *testing.T, h *harness) string {
			th := newHarnessEnv(t, "", newFakeAtlassian(t), "", map[string]string{"METRICS_TOKEN": testMetricsToken})
			for _, tok := range []string{"", "wrong-token-0123456789abcdef", testMetricsToken + "x"} {
				if code, _ := scrape(t, th, tok); code != http.StatusUnauthorized {
					return fmt.Sprintf("token %q: %d, want 401", tok, code)
				}
			}
			if code, body := scrape(t, th, testMetricsToken); code != 200 || !strings.Contains(body, "go_goroutines") {
				return fmt.Sprintf("the right token: %d", code)
			}
			return ""
		}},
	}
}

// TestTransportMatrix runs every case against a fully built app listening
// as `connect-doctor serve` does, and prints its counts.
func TestTransportMatrix(t *testing.T) {
	h := newHarness(t, "")
	// Control: a well-framed keep-alive pair gets two answers.
	host := strings.TrimPrefix(h.addr, "http://")
	pair := "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\n\r\nGET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
	if st, _ := rawExchange(t, h, pair); len(st) != 2 {
		t.Fatalf("control: a pipelined pair got %q", st)
	}
	chunked := "POST /healthz HTTP/1.1\r\nHost: " + host + "\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n" +
		"GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	if st, _ := rawExchange(t, h, chunked); len(st) != 2 {
		t.Fatalf("control: a chunked request and a follower got %q", st)
	}
	passed, failed := 0, 0
	for _, c := range transportCases() {
		ok := t.Run(c.name, func(t *testing.T) {
			if why := c.run(t, h); why != "" {
				t.Errorf("attack: %s\n%s", c.attack, why)
			}
		})
		if ok {
			passed++
		} else {
			failed++
		}
	}
	summary := fmt.Sprintf("transport matrix: %d passed, %d failed", passed, failed)
	fmt.Println(summary)
	t.Log(summary)
}
