package capture_test

import (
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/explain/capture"
	"github.com/connect-doctor/connect-doctor/scope"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		name, url string
		ok        bool
	}{
		{"absolute", "https://acme.atlassian.net/rest/api/3/myself?x=1", true},
		{"path", "/rest/api/3/myself", true},
		{"bad scheme", "ht!tp://bad url", false},
		{"unclosed IPv6", "http://[::1", false},
		{"no host", "https://", false},
		{"space in path", "/rest/api 3", false},
		{"not http", "ftp://example.com/x", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := capture.CheckURL(tc.url)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckURL(%q) = %v", tc.url, err)
			}
			if err != nil && (!errors.Is(err, capture.ErrBadURL) || strings.Contains(err.Error(), "\n")) {
				t.Errorf("error %q is not a one-line ErrBadURL", err)
			}
		})
	}
}

const har = `{"log":{"version":"1.2","entries":[
 {"request":{"method":"GET","url":"https://acme.atlassian.net/rest/api/3/myself","headers":[{"name":":authority","value":"acme.atlassian.net"},{"name":"Accept","value":"application/json"}]},
  "response":{"status":200,"headers":[],"content":{"text":"{}"}}},
 {"request":{"method":"POST","url":"https://acme.atlassian.net/rest/api/3/issue","headers":[{"name":"Authorization","value":"Basic eDp5"}],"postData":{"mimeType":"application/json","text":"{\"fields\":{}}"}},
  "response":{"status":403,"headers":[{"name":"Content-Type","value":"application/json"}],"content":{"text":"eyJtZXNzYWdlIjoibm8ifQ==","encoding":"base64"}}},
 {"request":{"method":"GET","url":"https://acme.atlassian.net/wiki/rest/api/space","headers":[]},
  "response":{"status":0,"headers":[],"content":{}}}
]}}`

func TestHAR(t *testing.T) {
	t.Run("failing entries", func(t *testing.T) {
		items, err := capture.HAR(har, capture.Select{Entry: -1})
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 2 || items[0].Input.Response.Status != 403 || items[1].Input.Context.NetworkErr == nil {
			t.Fatalf("items %+v", items)
		}
		in := items[0].Input
		if string(in.Response.Body) != `{"message":"no"}` || !in.Request.HasBody || in.Request.Header.Get("Authorization") != "Basic eDp5" {
			t.Errorf("entry not decoded: %+v", in)
		}
		if !strings.HasPrefix(items[0].Label, "entry 1: POST") {
			t.Errorf("label %q", items[0].Label)
		}
	})
	t.Run("entry by index, even a success", func(t *testing.T) {
		items, err := capture.HAR(har, capture.Select{Entry: 0})
		if err != nil || len(items) != 1 || items[0].Input.Response.Status != 200 {
			t.Fatalf("%v %+v", err, items)
		}
		if items[0].Input.Request.Header.Get(":authority") != "" {
			t.Errorf("pseudo-header kept")
		}
	})
	t.Run("url filter", func(t *testing.T) {
		items, err := capture.HAR(har, capture.Select{Entry: -1, URLContains: "/wiki/"})
		if err != nil || len(items) != 1 {
			t.Fatalf("%v %+v", err, items)
		}
	})
	bad := []struct {
		name, raw string
		sel       capture.Select
		want      error
	}{
		{"not JSON", `{"log": {"entries": [`, capture.Select{Entry: -1}, capture.ErrHARNotJSON},
		{"no entries", `{"log":{"entries":[]}}`, capture.Select{Entry: -1}, capture.ErrHARNoEntries},
		{"no log", `{"foo":1}`, capture.Select{Entry: -1}, capture.ErrHARNoEntries},
		{"entry out of range", har, capture.Select{Entry: 9}, capture.ErrHARNoMatch},
		{"no match", har, capture.Select{Entry: -1, URLContains: "nothing-like-this"}, capture.ErrHARNoMatch},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := capture.HAR(tc.raw, tc.sel)
			if !errors.Is(err, tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line wrapping %v", err, tc.want)
			}
		})
	}
}

func TestPaste(t *testing.T) {
	t.Run("response only", func(t *testing.T) {
		in, err := capture.Paste("HTTP/1.1 401 Unauthorized\nContent-Type: text/plain\n\nno")
		if err != nil || !in.Context.ResponseOnly || in.Response.Status != 401 {
			t.Fatalf("%v %+v", err, in)
		}
	})
	t.Run("request with a token form body", func(t *testing.T) {
		in, err := capture.Paste("POST /oauth2/token HTTP/1.1\nHost: auth.example.com\nContent-Type: application/x-www-form-urlencoded\n\ngrant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c\n\nHTTP/1.1 400 Bad Request\n\n{}")
		if err != nil || !strings.Contains(string(in.Request.Body), "grant_type=") || in.Response.Status != 400 {
			t.Fatalf("%v %+v", err, in)
		}
	})
	t.Run("unparseable URL", func(t *testing.T) {
		_, err := capture.Paste("> GET ht!tp://bad%20url HTTP/1.1\n>\n< HTTP/1.1 401 x\n<\n")
		if err == nil {
			t.Fatal("accepted")
		}
	})
}

func TestDescriptorAndFlags(t *testing.T) {
	files := map[string]string{
		"d.json": `{"key":"com.example.app","scopes":["read","act_as_user"]}`,
		"p.txt":  "> GET /rest/api/2/permissions HTTP/1.1\n> Host: acme.atlassian.net\n> Authorization: Bearer opaque\n>\n< HTTP/1.1 401 Unauthorized\n<\n",
	}
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	var f capture.Flags
	f.Bind(fs)
	if err := fs.Parse([]string{"--descriptor", "d.json", "--capture", "p.txt", "--as", "user"}); err != nil {
		t.Fatal(err)
	}
	items, err := f.Inputs(capture.Env{ReadFile: func(n string) (string, error) { return files[n], nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := items[0].Input.Context
	if ctx.AppKey != "com.example.app" || !ctx.DeclaredScopes.Has(scope.ActAsUser) || ctx.Identity != explain.IdentityUser {
		t.Fatalf("context %+v", ctx)
	}
	if _, _, err := capture.Descriptor(`{"scopes":["read"]}`); !errors.Is(err, capture.ErrDescriptor) {
		t.Errorf("descriptor without key: %v", err)
	}
	if _, _, err := capture.Descriptor(`{"key":"k","scopes":["superuser"]}`); !errors.Is(err, capture.ErrDescriptor) {
		t.Errorf("unknown scope: %v", err)
	}
}

func FuzzHAR(f *testing.F) {
	f.Add(har)
	f.Add(`{"log":{"entries":[{}]}}`)
	f.Add(`{"log":null}`)
	f.Fuzz(func(t *testing.T, raw string) {
		items, err := capture.HAR(raw, capture.Select{Entry: -1})
		if err == nil && len(items) == 0 {
			t.Fatal("no items and no error")
		}
	})
}
