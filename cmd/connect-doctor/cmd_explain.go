package main

// The diagnosis subcommands: explain (a 401/403 from flags or curl
// captures), jwt decode (a token without trusting it) and qsh (a canonical
// request and its hash). The work lives in explain.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/explain/capture"
)

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// colorFor reports whether w is a terminal and colour is wanted.
func colorFor(w io.Writer, noColor bool, std stdio) bool {
	if noColor || (std.getenv != nil && std.getenv("NO_COLOR") != "") {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func parseNow(s string) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--now: %w (want RFC 3339, e.g. 2026-03-14T15:09:26Z)", err)
	}
	return t, nil
}

func readInput(path string, std stdio) (string, error) {
	if path == "-" {
		b, err := io.ReadAll(io.LimitReader(std.in, 8<<20))
		return string(b), err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func writeDoctorJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func runExplain(args []string, std stdio) int {
	fs := cmdFlags("explain")
	var f capture.Flags
	f.Bind(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(std, fs, err)
	}
	if len(pos) > 0 {
		return usageError(std, fs, fmt.Errorf("unexpected argument %q (explain takes only flags)", pos[0]))
	}
	items, err := f.Inputs(capture.Env{ReadFile: func(name string) (string, error) { return readInput(name, std) }, Now: time.Now})
	if err != nil {
		return usageError(std, fs, errors.New(strings.TrimPrefix(err.Error(), capture.ErrUsage.Error()+": ")))
	}
	cat, err := catalogFor("", std)
	if err != nil {
		return usageError(std, fs, err)
	}
	eng := explain.New(cat)
	if f.JSON {
		if len(items) == 1 && items[0].Label == "" {
			writeDoctorJSON(std.out, eng.Diagnose(items[0].Input))
			return 0
		}
		type labelled struct {
			Entry     string            `json:"entry"`
			Diagnosis explain.Diagnosis `json:"diagnosis"`
		}
		out := make([]labelled, 0, len(items))
		for _, it := range items {
			out = append(out, labelled{it.Label, eng.Diagnose(it.Input)})
		}
		writeDoctorJSON(std.out, out)
		return 0
	}
	color := colorFor(std.out, f.NoColor, std)
	for i, it := range items {
		if it.Label != "" {
			if i > 0 {
				fmt.Fprintln(std.out)
			}
			fmt.Fprintf(std.out, "== %s\n", it.Label)
		}
		eng.Diagnose(it.Input).WriteText(std.out, color)
	}
	return 0
}

func runJWT(args []string, std stdio) int {
	fs := cmdFlags("jwt decode")
	var (
		secret   = fs.String("secret", "", "shared secret to check an HMAC signature (never printed)")
		previous multiFlag
		method   = fs.String("method", "GET", "request method the token was sent with")
		url      = fs.String("url", "", "request URL or path the token was sent with (enables the qsh check)")
		basePath = fs.String("base-path", "", "base path left out of the qsh (e.g. /wiki)")
		nowFlag  = fs.String("now", "", "the clock to judge times by (RFC 3339; default: now)")
		asJSON   = fs.Bool("json", false, "print the report as JSON")
		noColor  = fs.Bool("no-color", false, "never colour the output")
	)
	fs.Var(&previous, "previous-secret", "a secret from before a reinstall (repeatable)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(std, fs, err)
	}
	if len(pos) != 1 {
		return usageError(std, fs, errors.New("takes exactly one TOKEN"))
	}
	tok := pos[0]
	if tok == "-" {
		b, err := io.ReadAll(io.LimitReader(std.in, 64<<10))
		if err != nil {
			return usageError(std, fs, err)
		}
		tok = strings.TrimSpace(string(b))
	}
	now, err := parseNow(*nowFlag)
	if err != nil {
		return usageError(std, fs, err)
	}
	r, err := explain.DecodeToken(tok)
	if err != nil {
		return usageError(std, fs, fmt.Errorf("cannot decode the token: %w", err))
	}
	r.CheckTimes(now)
	if *secret != "" || len(previous) > 0 {
		r.VerifySignature(*secret, previous...)
	}
	if *url != "" {
		if err := capture.CheckURL(*url); err != nil {
			return usageError(std, fs, err)
		}
		bp := *basePath
		if bp == "" {
			bp = gatewayBase(*url)
		}
		r.CheckQSH(*method, *url, bp)
	}
	if *asJSON {
		writeDoctorJSON(std.out, r)
		return 0
	}
	color := colorFor(std.out, *noColor, std)
	r.WriteText(std.out, color)
	writeTokenVerdicts(std.out, r, now, *url != "")
	return 0
}

// gatewayBase returns the /ex/<product>/<cloudId> prefix of an
// api.atlassian.com URL, which is not part of the hashed path.
func gatewayBase(u string) string {
	i := strings.Index(u, "api.atlassian.com/ex/")
	if i < 0 {
		return ""
	}
	segs := strings.SplitN(u[i+len("api.atlassian.com"):], "/", 5)
	if len(segs) < 4 {
		return ""
	}
	return "/" + segs[1] + "/" + segs[2] + "/" + segs[3]
}

// writeTokenVerdicts adds one-line judgements under the report.
func writeTokenVerdicts(w io.Writer, r *explain.TokenReport, now time.Time, qshChecked bool) {
	fmt.Fprintln(w, "\nchecks:")
	c := r.Claims
	switch {
	case c.ExpiresAt == nil:
		fmt.Fprintln(w, "   expiry:    no exp claim")
	case time.Unix(*c.ExpiresAt, 0).After(now):
		fmt.Fprintf(w, "   expiry:    valid for another %s\n", time.Unix(*c.ExpiresAt, 0).Sub(now).Round(time.Second))
	default:
		fmt.Fprintf(w, "   expiry:    EXPIRED %s ago\n", now.Sub(time.Unix(*c.ExpiresAt, 0)).Round(time.Second))
	}
	if c.IssuedAt != nil {
		if d := time.Unix(*c.IssuedAt, 0).Sub(now); d > 30*time.Second {
			fmt.Fprintf(w, "   skew:      iat is %s in the future: the minting clock runs ahead\n", d.Round(time.Second))
		} else {
			fmt.Fprintln(w, "   skew:      iat is not in the future")
		}
	}
	switch r.Signature {
	case explain.SigNotChecked:
		fmt.Fprintln(w, "   signature: not checked (give --secret)")
	case explain.SigValid:
		fmt.Fprintln(w, "   signature: valid with the given secret")
	case explain.SigValidPrevious:
		fmt.Fprintln(w, "   signature: valid only with a previous secret: the signer uses a stale secret")
	case explain.SigInvalid:
		fmt.Fprintln(w, "   signature: INVALID with the given secret")
	case explain.SigNotVerifiable:
		fmt.Fprintf(w, "   signature: %s is not an HMAC algorithm; it needs a public key\n", r.Header.Alg)
	}
	if !qshChecked {
		fmt.Fprintln(w, "   qsh:       not checked (give --method and --url)")
	}
}

func runQSH(args []string, std stdio) int {
	fs := cmdFlags("qsh")
	basePath := fs.String("base-path", "", "base path left out of the hash (e.g. /wiki, or the app's baseUrl path)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(std, fs, err)
	}
	if len(pos) != 2 {
		return usageError(std, fs, errors.New("takes METHOD and URL"))
	}
	m := strings.ToUpper(pos[0])
	if !validMethod(m) {
		return usageError(std, fs, fmt.Errorf("%q is not an HTTP method", pos[0]))
	}
	if err := capture.CheckURL(pos[1]); err != nil {
		return usageError(std, fs, err)
	}
	bp := *basePath
	if bp == "" {
		bp = gatewayBase(pos[1])
	}
	canon := connect.CanonicalRequest(m, pos[1], bp)
	sum := connect.QSH(canon)
	if *asJSON {
		writeDoctorJSON(std.out, map[string]string{"method": m, "url": pos[1], "basePath": bp, "canonical": canon, "qsh": sum})
		return 0
	}
	fmt.Fprintf(std.out, "canonical: %s\nqsh:       %s\n", canon, sum)
	return 0
}

func validMethod(m string) bool {
	switch m {
	case "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS":
		return true
	}
	return false
}
