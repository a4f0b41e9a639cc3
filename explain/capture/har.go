package capture

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/connect-doctor/connect-doctor/explain"
)

// HAR errors.
var (
	ErrHARNotJSON   = errors.New("not a HAR file: the input is not JSON")
	ErrHARNoEntries = errors.New("the HAR file has no entries (log.entries is empty or missing)")
	ErrHARNoMatch   = errors.New("no HAR entry matches")
)

// maxHARBody bounds the response body kept per entry.
const maxHARBody = 256 << 10

// Select picks HAR entries. Entry < 0 means every entry; URLContains ""
// means any URL. Without either, only failing entries are kept (4xx, 5xx,
// no answer, or a redirect to a login page).
type Select struct {
	Entry       int
	URLContains string
}

type harNV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type harFile struct {
	Log *struct {
		Entries []struct {
			Request struct {
				Method   string  `json:"method"`
				URL      string  `json:"url"`
				Headers  []harNV `json:"headers"`
				PostData *struct {
					MimeType string `json:"mimeType"`
					Text     string `json:"text"`
				} `json:"postData"`
				BodySize int `json:"bodySize"`
			} `json:"request"`
			Response struct {
				Status  int     `json:"status"`
				Headers []harNV `json:"headers"`
				Content struct {
					Text     string `json:"text"`
					Encoding string `json:"encoding"`
				} `json:"content"`
				RedirectURL string `json:"redirectURL"`
			} `json:"response"`
		} `json:"entries"`
	} `json:"log"`
}

// LooksLikeHAR reports whether a paste is a HAR export rather than HTTP
// text.
func LooksLikeHAR(raw string) bool {
	s := strings.TrimSpace(raw)
	if !strings.HasPrefix(s, "{") {
		return false
	}
	head := s
	if len(head) > 4096 {
		head = head[:4096]
	}
	return strings.Contains(head, `"log"`)
}

// HAR reads a browser's network export and returns the entries to explain,
// each labelled "entry N: METHOD URL".
func HAR(raw string, sel Select) ([]Item, error) {
	if len(raw) > MaxInput*4 {
		return nil, fmt.Errorf("HAR larger than %d MiB", MaxInput*4>>20)
	}
	var h harFile
	if err := json.Unmarshal([]byte(raw), &h); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w (at byte %d: %v)", ErrHARNotJSON, se.Offset, err)
		}
		return nil, fmt.Errorf("%w (%v)", ErrHARNotJSON, err)
	}
	if h.Log == nil || len(h.Log.Entries) == 0 {
		return nil, ErrHARNoEntries
	}
	if sel.Entry >= len(h.Log.Entries) {
		return nil, fmt.Errorf("%w: --entry %d, the file has %d entries (0 to %d)", ErrHARNoMatch, sel.Entry, len(h.Log.Entries), len(h.Log.Entries)-1)
	}
	var out []Item
	failing := 0
	for i, e := range h.Log.Entries {
		if sel.Entry >= 0 && i != sel.Entry {
			continue
		}
		if sel.URLContains != "" && !strings.Contains(e.Request.URL, sel.URLContains) {
			continue
		}
		st := e.Response.Status
		loc := strings.ToLower(e.Response.RedirectURL + " " + headerValue(e.Response.Headers, "Location"))
		fails := st == 0 || st >= 400 || (st >= 300 && st < 400 && (strings.Contains(loc, "login") || strings.Contains(loc, "id.atlassian.com")))
		if sel.Entry < 0 && !fails {
			continue
		}
		failing++
		in := explain.Input{}
		in.Request = explain.Request{Method: strings.ToUpper(e.Request.Method), URL: e.Request.URL, Header: toHeader(e.Request.Headers)}
		if p := e.Request.PostData; p != nil && p.Text != "" {
			in.Request.HasBody = true
			in.Request.Body = boundBytes([]byte(p.Text))
			if in.Request.Header.Get("Content-Type") == "" && p.MimeType != "" {
				in.Request.Header.Set("Content-Type", p.MimeType)
			}
		} else if e.Request.BodySize > 0 {
			in.Request.HasBody = true
		}
		body := []byte(e.Response.Content.Text)
		if e.Response.Content.Encoding == "base64" {
			if d, err := base64.StdEncoding.DecodeString(e.Response.Content.Text); err == nil {
				body = d
			}
		}
		in.Response = explain.Response{Status: st, Header: toHeader(e.Response.Headers), Body: boundBytes(body)}
		if st == 0 {
			in.Context.NetworkErr = errors.New("the browser recorded no response (blocked, CORS, cancelled or network failure)")
		}
		if in.Request.URL != "" {
			if err := CheckURL(in.Request.URL); err != nil {
				return nil, fmt.Errorf("entry %d: %w", i, err)
			}
		}
		out = append(out, Item{Label: "entry " + strconv.Itoa(i) + ": " + in.Request.Method + " " + trunc(in.Request.URL, 200), Input: in})
	}
	if len(out) == 0 {
		what := "a failing request (status 4xx/5xx, no response, or a redirect to a login page)"
		switch {
		case sel.URLContains != "":
			what = "--url-contains " + strconv.Quote(sel.URLContains)
			if sel.Entry < 0 {
				what += " among the failing entries (use --entry N to explain a successful one)"
			}
		}
		return nil, fmt.Errorf("%w %s (%d entries)", ErrHARNoMatch, what, len(h.Log.Entries))
	}
	return out, nil
}

func boundBytes(b []byte) []byte {
	if len(b) > maxHARBody {
		return b[:maxHARBody]
	}
	return b
}

func headerValue(h []harNV, name string) string {
	for _, nv := range h {
		if strings.EqualFold(nv.Name, name) {
			return nv.Value
		}
	}
	return ""
}

// toHeader converts HAR headers; HTTP/2 pseudo-headers (":authority") are
// dropped.
func toHeader(h []harNV) http.Header {
	out := http.Header{}
	for _, nv := range h {
		n := strings.TrimSpace(nv.Name)
		if n == "" || strings.HasPrefix(n, ":") || strings.ContainsAny(n, " \t\"") {
			continue
		}
		out.Add(n, nv.Value)
	}
	return out
}
