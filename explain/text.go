package explain

import (
	"fmt"
	"io"
	"strings"
)

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiGreen  = "\x1b[32m"
	ansiCyan   = "\x1b[36m"
)

type painter bool

func (p painter) c(code, s string) string {
	if !p {
		return s
	}
	return code + s + ansiReset
}

// WriteText renders the diagnosis for people; color adds ANSI colours.
func (d Diagnosis) WriteText(w io.Writer, color bool) {
	p := painter(color)
	vc := ansiRed
	switch d.Verdict {
	case VerdictOK:
		vc = ansiGreen
	case VerdictRateLimited, VerdictServer, VerdictNetwork:
		vc = ansiYellow
	}
	status := "no response"
	if d.Status != 0 {
		status = fmt.Sprint(d.Status)
	}
	fmt.Fprintf(w, "%s  %s\n", p.c(ansiBold, status+" · "+p.c(vc, d.Verdict)), d.Request)
	if d.Endpoint != nil {
		e := d.Endpoint
		perm := e.Permission
		if len(e.PermissionNames) > 0 {
			perm += " (" + strings.Join(e.PermissionNames, ", ") + ")"
		}
		flags := ""
		if e.Deprecated {
			flags += ", deprecated"
		}
		fmt.Fprintf(w, "%s %s %s · operation %s · Connect scope %s · permission %s%s\n", p.c(ansiDim, "endpoint:"), e.Method, e.Path, e.OperationID, e.ConnectScope, perm, flags)
	} else {
		fmt.Fprintf(w, "%s not in the catalog (scopes and permissions not checked)\n", p.c(ansiDim, "endpoint:"))
	}
	fmt.Fprintf(w, "\n%s\n", d.Summary)
	for i, c := range d.Causes {
		fmt.Fprintf(w, "\n%s %s %s\n", p.c(ansiBold, fmt.Sprintf("%d.", i+1)), p.c(ansiBold, c.Title), p.c(ansiCyan, fmt.Sprintf("[%s, %.0f%%]", c.Code, c.Confidence*100)))
		for _, e := range c.Evidence {
			fmt.Fprintf(w, "   - %s\n", e)
		}
		if c.Unconfirmed {
			fmt.Fprintf(w, "   %s nothing specific confirms this; it is what the status alone suggests\n", p.c(ansiYellow, "unconfirmed:"))
		}
		if c.Fix != "" {
			fmt.Fprintf(w, "   %s %s\n", p.c(ansiGreen, "fix:"), c.Fix)
		}
		if c.Collect != "" {
			fmt.Fprintf(w, "   %s %s\n", p.c(ansiYellow, "to decide, collect:"), c.Collect)
		}
	}
	if t := d.Token; t != nil {
		fmt.Fprintf(w, "\n%s\n", p.c(ansiBold, "token"))
		t.writeText(w, p)
	}
	if len(d.Notes) > 0 {
		fmt.Fprintf(w, "\n%s\n", p.c(ansiBold, "notes"))
		for _, n := range d.Notes {
			fmt.Fprintf(w, "   - %s\n", n)
		}
	}
}

// WriteText renders a token report for people.
func (r *TokenReport) WriteText(w io.Writer, color bool) { r.writeText(w, painter(color)) }

func (r *TokenReport) writeText(w io.Writer, p painter) {
	fmt.Fprintf(w, "   kind:      %s\n", r.Kind)
	fmt.Fprintf(w, "   header:    alg=%s typ=%s", r.Header.Alg, r.Header.Typ)
	if r.Header.Kid != "" {
		fmt.Fprintf(w, " kid=%s", r.Header.Kid)
	}
	fmt.Fprintln(w)
	c := r.Claims
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "   %-10s %s\n", k+":", v)
		}
	}
	row("iss", c.Issuer)
	row("sub", c.Subject)
	if len(c.Audience) > 0 {
		row("aud", strings.Join(c.Audience, ", "))
	}
	row("qsh", c.QSH)
	row("scope", c.Scope)
	row("tnt", c.Tenant)
	if f := r.Forge; f != nil {
		row("app.id", f.AppID)
		row("install", f.InstallationID)
		row("env", strings.TrimSpace(f.EnvironmentType+" "+f.EnvironmentID))
		row("module", strings.TrimSpace(f.ModuleType+" "+f.ModuleKey))
		row("apiBase", f.APIBaseURL)
		row("principal", f.Principal)
	}
	if len(c.Context) > 0 {
		row("context", truncate(string(c.Context), 160))
	}
	for _, t := range r.Times {
		v := fmt.Sprintf("%d  %s", t.Unix, t.Time)
		if t.Relative != "" {
			rel := t.Relative
			if strings.HasPrefix(rel, "expired") || strings.Contains(rel, "future") || strings.HasPrefix(rel, "not valid") {
				rel = p.c(ansiRed, rel)
			}
			v += "  (" + rel + ")"
		}
		row(t.Claim, v)
	}
	row("lifetime", r.Lifetime)
	row("claims", strings.Join(r.ClaimNames, ", "))
	sig := r.Signature
	switch sig {
	case SigValid:
		sig = p.c(ansiGreen, sig)
	case SigInvalid, SigValidPrevious:
		sig = p.c(ansiRed, sig)
	}
	row("signature", sig)
	if q := r.QSH; q != nil {
		fmt.Fprintf(w, "   qsh check:\n")
		fmt.Fprintf(w, "     expected canonical: %s\n", q.Canonical)
		fmt.Fprintf(w, "     expected qsh:       %s\n", q.Expected)
		fmt.Fprintf(w, "     token qsh:          %s\n", orDefault(q.TokenQSH, "(none)"))
		switch {
		case q.ContextQSH:
			fmt.Fprintf(w, "     result:             %s\n", p.c(ansiYellow, "context token (qsh = context-qsh): bound to no request"))
		case q.Match:
			fmt.Fprintf(w, "     result:             %s\n", p.c(ansiGreen, "match"))
		case q.TokenQSH == "":
			fmt.Fprintf(w, "     result:             %s\n", p.c(ansiRed, "missing"))
		default:
			fmt.Fprintf(w, "     result:             %s\n", p.c(ansiRed, "MISMATCH"))
			if q.VariantName != "" {
				fmt.Fprintf(w, "     token matches:      %s\n", q.VariantCanonical)
				fmt.Fprintf(w, "     i.e.:               %s\n", q.VariantName)
			} else {
				fmt.Fprintf(w, "     no common mistake reproduces the token's qsh (another request, or a proxy rewrote the URL)\n")
			}
		}
	}
	for _, pr := range r.Problems {
		fmt.Fprintf(w, "   %s %s\n", p.c(ansiYellow, "problem:"), pr)
	}
}
