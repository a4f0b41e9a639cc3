package panel

import (
	"encoding/json"

	"github.com/connect-doctor/connect-doctor/internal/redact"
	"github.com/connect-doctor/connect-doctor/storage"
)

// RedactRow applies the history's storage rule to a row (issue 16 item
// 13): Jira's answer body is kept as the history shows it, trimmed to
// MaxResponseShown, with the values of personal fields (e-mail address,
// display name, avatars, time zone, locale…) and every e-mail address
// replaced by "[redacted]"; e-mail addresses in the path and summary too.
// The viewer's accountId stays (the history says who ran the check). It
// reports whether the row changed; applying it twice changes nothing.
func RedactRow(r *redact.Redactor, row *storage.CheckRow) bool {
	changed := false
	if p := r.Text(row.Path); p != row.Path {
		row.Path, changed = p, true
	}
	if s := r.Text(row.Summary); s != row.Summary {
		row.Summary, changed = s, true
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(row.Result), &doc); err != nil {
		// Not a result this version wrote: keep no body at all.
		if out := r.Text(row.Result); out != row.Result {
			row.Result, changed = out, true
		}
		return changed
	}
	if resp, ok := doc["response"].(map[string]any); ok {
		if body, ok := resp["body"].(string); ok {
			shown, cut := trimBody([]byte(body), MaxResponseShown)
			if red := r.Text(shown); red != body {
				resp["body"] = red
				if cut {
					resp["bodyTruncated"] = true
				}
			}
		}
	}
	if req, ok := doc["request"].(map[string]any); ok {
		if p, ok := req["path"].(string); ok {
			req["path"] = r.Text(p)
		}
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return changed
	}
	// E-mail addresses anywhere else (a diagnosis quoting an error message).
	out := r.Text(string(raw))
	var before map[string]any
	_ = json.Unmarshal([]byte(row.Result), &before)
	if b, _ := json.Marshal(before); string(b) != out {
		row.Result, changed = out, true
	}
	return changed
}
