package panel

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/config"
)

//go:embed web/panel.html web/panel.js web/panel.css
var webFiles embed.FS

// asset is one static file, served under a name that carries its content
// hash so that it can be cached forever.
type asset struct {
	name        string // e.g. panel.3f2a1b9c0d4e.js
	contentType string
	body        encodedBody
}

type assets struct {
	page   *template.Template
	byName map[string]*asset
	js     *asset
	css    *asset
}

func loadAssets() (*assets, error) {
	a := &assets{byName: map[string]*asset{}}
	load := func(file, ext, ctype string) (*asset, error) {
		b, err := webFiles.ReadFile("web/" + file)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		as := &asset{name: "panel." + hex.EncodeToString(sum[:6]) + ext, contentType: ctype, body: newEncodedBody(b)}
		a.byName[as.name] = as
		return as, nil
	}
	var err error
	if a.js, err = load("panel.js", ".js", "text/javascript; charset=utf-8"); err != nil {
		return nil, err
	}
	if a.css, err = load("panel.css", ".css", "text/css; charset=utf-8"); err != nil {
		return nil, err
	}
	raw, err := webFiles.ReadFile("web/panel.html")
	if err != nil {
		return nil, err
	}
	a.page, err = template.New("panel").Parse(string(raw))
	return a, err
}

// static serves the hashed assets: immutable, cacheable for a year.
func (p *Panel) static(c *gin.Context) {
	as, ok := p.assets.byName[c.Param("name")]
	if !ok {
		c.Header("Cache-Control", "no-store")
		httperr.Abort(c, http.StatusNotFound, CodeNotFound, "No such static file.", "Static files are named after their content hash; reload the panel.")
		return
	}
	c.Header("Cache-Control", "public, max-age=31536000, immutable")
	c.Header("Cross-Origin-Resource-Policy", "cross-origin")
	as.body.write(c, as.contentType)
}

// sections are the panel's sections, in page order; ?view= selects one.
var sections = []string{"installation", "explorer", "check", "explain", "history", "advisor", "quota"}

// page renders the admin page. The tenant comes from the verified page
// token; nothing secret is put into the page.
func (p *Panel) page(c *gin.Context) {
	t := p.tenantOf(c)
	base := strings.TrimSuffix(c.FullPath(), "/admin")
	view, _ := queryValue(c.Request.URL.RawQuery, "view")
	if !contains(sections, view) {
		view = ""
	}
	key := pageKey{base: base, view: view, site: t.BaseURL, display: t.DisplayURL}
	pg, ok := p.pages.Get(key)
	if !ok {
		var buf bytes.Buffer
		err := p.assets.page.Execute(&buf, map[string]any{
			"APJS":     p.APJSURL,
			"JS":       base + "/static/" + p.assets.js.name,
			"CSS":      base + "/static/" + p.assets.css.name,
			"API":      base + "/api",
			"View":     view,
			"Site":     t.BaseURL,
			"Sections": sections,
		})
		if err != nil {
			p.Logger.Error("admin page template", "error", err.Error())
			httperr.Abort(c, http.StatusInternalServerError, "internal_error", "The page could not be rendered.", "")
			return
		}
		pg = &renderedPage{csp: p.csp(t.BaseURL, t.DisplayURL), body: p.gzip.encode(bytes.Clone(buf.Bytes()))}
		p.pages.Add(key, pg)
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", pg.csp)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	pg.body.write(c, "text/html; charset=utf-8")
}

// pageKey names one rendered page.
type pageKey struct{ base, view, site, display string }

// queryValue returns the first value of name in a raw query, decoded as
// url.ParseQuery would, without building the whole map: Jira's page URLs
// carry a dozen parameters and a JWT, and only one is wanted.
func queryValue(rawQuery, name string) (string, bool) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k != name {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if dk, err := url.QueryUnescape(k); err != nil || dk != name {
				continue
			}
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			continue // url.ParseQuery skips an undecodable pair too
		}
		return dv, true
	}
	return "", false
}

// renderedPage is the admin page of one (base path, view, site), rendered
// once: the page holds nothing per user or per request (the token stays in
// the URL; the panel asks for a context token), so it is served from
// memory, already compressed.
type renderedPage struct {
	csp  string
	body encodedBody
}

// csp allows exactly what the page needs: its own script and stylesheet,
// all.js, API calls to its own origin, and framing by the tenant's site
// (baseUrl and, if the site has a custom domain, displayUrl).
//
// Both URLs come from the database, so they are checked again here
// (issue 16 item 10): a row stored before the install-time check existed,
// or edited by hand, must not widen frame-ancestors ("https://*") or
// inject directives. A URL that fails is left out (and logged); with none
// left the page may not be framed at all.
func (p *Panel) csp(baseURL, displayURL string) string {
	ancestors := []string{}
	for _, u := range []string{baseURL, displayURL} {
		if u == "" {
			continue
		}
		o, err := p.ancestor(u)
		if err != nil {
			if p.Logger != nil {
				p.Logger.Warn("a stored site URL is not a valid frame ancestor; left out of the CSP", "url", truncate(u, 120), "error", err.Error())
			}
			continue
		}
		if !contains(ancestors, o) {
			ancestors = append(ancestors, o)
		}
	}
	fa := "'none'"
	if len(ancestors) > 0 {
		fa = strings.Join(ancestors, " ")
	}
	script := "'self'"
	if src := cspSource(p.APJSURL); src != "" {
		script += " " + src
	}
	return "default-src 'none'; script-src " + script + "; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; object-src 'none'; frame-ancestors " + fa
}

// errNotAncestor: a stored URL that cannot be a frame ancestor.
var errNotAncestor = errors.New("not a valid frame ancestor")

// ancestor returns the origin of a stored site URL for frame-ancestors:
// the same host rules as at install time (config.CheckBaseURL against
// AllowedHosts, when the panel has them) and, always, a plain origin —
// http(s), an ASCII host name of letters, digits, dots and hyphens (or
// an IP literal), an optional numeric port; no wildcard, no white space,
// no quote, comma or semicolon.
func (p *Panel) ancestor(raw string) (string, error) {
	if p.AllowedHosts != nil {
		if err := config.CheckBaseURL(raw, p.AllowedHosts); err != nil {
			return "", err
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("%w: not an http(s) URL with a host", errNotAncestor)
	}
	host := u.Hostname()
	if !validHost(host) {
		return "", fmt.Errorf("%w: host %.80q", errNotAncestor, host)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 || strconv.Itoa(n) != port {
			return "", fmt.Errorf("%w: port %.16q", errNotAncestor, port)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", fmt.Errorf("%w: empty port", errNotAncestor)
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// validHost: an IP literal, or an ASCII DNS name (LDH labels of 1..63).
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// cspSource turns the all.js URL into a CSP source expression matching
// exactly that file.
func cspSource(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(raw, " ;,'\"") {
		return ""
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
