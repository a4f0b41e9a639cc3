package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDevForge starts `connect-doctor dev --forge`, then follows the
// printed commands: the Forge panel API as requestRemote and invokeRemote
// do (the Forge installation is linked to the Connect tenant), the
// non-admin refusal, the printed Custom UI admin pages (bridge invokes as
// the administrator and as a regular user), and the Connect admin page in
// the same process.
func TestDevForge(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	out, errOut := &syncBuffer{}, &syncBuffer{}
	dataDir := t.TempDir()
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"dev", "--forge", "--port", "0"}, stdio{out: out, err: errOut, ctx: ctx, ready: ready,
			getenv: func(k string) string {
				if k == "DATA_DIR" {
					return dataDir
				}
				return ""
			}})
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("dev did not stop")
		}
	}()
	var adminURL string
	select {
	case adminURL = <-ready:
	case code := <-done:
		t.Fatalf("dev exited with %d: %s", code, errOut.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("dev did not become ready: %s", errOut.String())
	}
	text := out.String()
	// The terminal gets a short summary with the URLs to open; the curl
	// commands with their tokens are in the file it names.
	if len(text) > 2048 || strings.Contains(text, "Bearer") || strings.Contains(text, "curl -") {
		t.Fatalf("dev --forge printed %d bytes, tokens or curl commands; want a short summary:\n%s", len(text), text)
	}
	file := regexp.MustCompile(`(?m)^  (\S+dev-forge\.txt)$`).FindStringSubmatch(text)
	if file == nil {
		t.Fatalf("the summary does not name the file with the commands:\n%s", text)
	}
	if st, err := os.Stat(file[1]); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, mode %v; want 0600 (it holds tokens)", file[1], err, st.Mode().Perm())
	}
	long, err := os.ReadFile(file[1])
	if err != nil {
		t.Fatal(err)
	}
	clientKey := regexp.MustCompile(`\(clientKey ([^)]+)\)`).FindStringSubmatch(text)
	curls := regexp.MustCompile(`(?m)^  curl .*$`).FindAllString(string(long), -1)
	if clientKey == nil || len(curls) != 3 {
		t.Fatalf("output lacks the clientKey or the file the three curl commands:\n%s\n%s", text, long)
	}
	// Replay each printed curl command with net/http.
	do := func(cmd string) (int, string) {
		t.Helper()
		req, err := curlRequest(cmd)
		if err != nil {
			t.Fatalf("%v: %s", err, cmd)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	status, body := do(curls[0])
	var inst struct {
		ClientKey string `json:"clientKey"`
		Details   *struct {
			InstallationID string `json:"installationId"`
		} `json:"details"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &inst) != nil || inst.ClientKey != clientKey[1] || inst.Details == nil ||
		!strings.HasPrefix(inst.Details.InstallationID, "ari:cloud:ecosystem::installation/") {
		t.Fatalf("requestRemote installation: %d %s", status, body)
	}
	status, body = do(curls[1])
	var res struct {
		Response struct{ Status int } `json:"response"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &res) != nil || res.Response.Status != 200 {
		t.Fatalf("invokeRemote check: %d %s", status, body)
	}
	if status, body = do(curls[2]); status != 403 || !strings.Contains(body, "not_jira_admin") {
		t.Fatalf("non-admin history: %d %s", status, body)
	}
	// The printed Custom UI admin pages: the panel's iframe, and an
	// invokeRemote through the page's bridge reaching /forge/api with the
	// Connect tenant's linked installation.
	pages := regexp.MustCompile(`(?m)^  as [^:]+: (http://\S+/jira/settings/apps/\S+)$`).FindAllStringSubmatch(text, -1)
	if len(pages) != 2 {
		t.Fatalf("output lacks the two Custom UI admin page URLs:\n%s", text)
	}
	bridgeFor := func(pageURL string) string {
		t.Helper()
		resp, err := http.Get(pageURL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`<iframe[^>]+src="([^"]+)"`).FindStringSubmatch(string(b))
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("Custom UI admin page: %d, no iframe:\n%s", resp.StatusCode, b)
		}
		u, _ := url.Parse(pageURL)
		return u.Scheme + "://" + u.Host + strings.TrimSuffix(html.UnescapeString(m[1]), "index.html") + "__forgesim/bridge"
	}
	invoke := func(bridge, path string) (int, map[string]any) {
		t.Helper()
		raw, _ := json.Marshal(map[string]any{"name": "invoke", "payload": map[string]any{"path": path, "method": "GET", "invokeType": "ui-remote-fetch"}})
		resp, err := http.Post(bridge, "application/json", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Result struct {
				Payload struct {
					Status int            `json:"status"`
					Body   map[string]any `json:"body"`
				} `json:"payload"`
			} `json:"result"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("bridge invoke %s: %d %v", path, resp.StatusCode, err)
		}
		return out.Result.Payload.Status, out.Result.Payload.Body
	}
	if status, body := invoke(bridgeFor(pages[0][1]), "/forge/api/installation"); status != 200 || body["clientKey"] != clientKey[1] || body["details"] == nil {
		t.Fatalf("Custom UI as the administrator: %d %v", status, body)
	}
	if status, body := invoke(bridgeFor(pages[1][1]), "/forge/api/checks"); status != 403 || !strings.Contains(fmt.Sprint(body), "not_jira_admin") {
		t.Fatalf("Custom UI as a regular user: %d %v", status, body)
	}

	// The Connect path in the same process.
	resp, err := http.Get(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("Connect admin page through the simulator: %d", resp.StatusCode)
	}
}

// curlRequest parses the printed `curl -s [-X M] [-H 'h: v']… [-d 'body'] URL`.
func curlRequest(cmd string) (*http.Request, error) {
	re := regexp.MustCompile(`-X (\S+)|-H '([^']*)'|-d '([^']*)'|(http://\S+)`)
	method, url, body := "GET", "", ""
	h := http.Header{}
	for _, m := range re.FindAllStringSubmatch(cmd, -1) {
		switch {
		case m[1] != "":
			method = m[1]
		case m[2] != "":
			k, v, _ := strings.Cut(m[2], ": ")
			h.Add(k, v)
		case m[3] != "":
			body = m[3]
		case m[4] != "":
			url = m[4]
		}
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = h
	return req, nil
}
