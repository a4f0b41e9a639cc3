package explain

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/connect-doctor/connect-doctor/explain/knowledge"
	"github.com/connect-doctor/connect-doctor/explain/preflight"
)

// maxConfidence: the engine never claims certainty.
const maxConfidence = 0.97

// Diagnose explains one exchange. It is pure: the same input always gives
// the same diagnosis.
func (e *Engine) Diagnose(in Input) Diagnosis {
	a := e.analyze(&in)
	if in.Context.NetworkErr != nil {
		a.detectNetwork()
	} else {
		a.detectCredential()
		a.detectToken()
		a.detectChallenges()
		a.detectServerTexts()
		a.detectScopes()
		a.detectPermissions()
		a.detectRouting()
		a.detectRequestShape()
		a.detectIntermediaries()
		a.detectStatus()
		a.detectForge()
		a.detectComputed()
		a.detectKnowledge()
	}
	a.detectExchange()
	a.detectFallback()
	return a.finish()
}

// add records a cause whose confidence assumes a status typical for the
// cause; finish scales it to the actual status.
func (a *analysis) add(code string, conf float64, fix string, evidence ...string) *rawCause {
	return a.put(code, conf, fix, false, evidence)
}

// addExact records a cause whose confidence already reflects the status.
func (a *analysis) addExact(code string, conf float64, fix string, evidence ...string) *rawCause {
	return a.put(code, conf, fix, true, evidence)
}

func (a *analysis) put(code string, conf float64, fix string, exact bool, evidence []string) *rawCause {
	for _, c := range a.causes {
		if c.Code != code {
			continue
		}
		if conf > c.legacy {
			c.legacy, c.exact = conf, exact
			if fix != "" {
				c.Fix = fix
			}
			c.Evidence = append(slices.Clone(evidence), c.Evidence...)
		} else {
			c.Evidence = append(c.Evidence, evidence...)
		}
		c.Evidence = dedupe(c.Evidence)
		return c
	}
	info, _ := LookupCode(code)
	c := &rawCause{Cause: Cause{Code: code, Title: info.Title, Evidence: dedupe(evidence), Fix: fix}, legacy: conf, exact: exact, order: len(a.causes)}
	a.causes = append(a.causes, c)
	return c
}

func (a *analysis) has(code string) *rawCause {
	for _, c := range a.causes {
		if c.Code == code {
			return c
		}
	}
	return nil
}

func (a *analysis) best() float64 {
	b := 0.0
	for _, c := range a.causes {
		b = math.Max(b, c.legacy)
	}
	return b
}

func dedupe(ev []string) []string {
	out := ev[:0:0]
	for _, e := range ev {
		if e != "" && !slices.Contains(out, e) {
			out = append(out, truncate(e, 600))
		}
	}
	return out
}

// statusFactor scales a cause of the given class to the actual status.
func statusFactor(class string, status int) float64 {
	auth := class == VerdictAuthentication
	authz := class == VerdictAuthorization
	switch {
	case status == 0:
		return 1
	case status < 400:
		return 0.35
	case status == 401:
		if authz {
			return 0.8
		}
	case status == 403:
		if auth {
			return 0.8
		}
	case status == 404 || status == 410:
		if auth || authz {
			return 0.7
		}
	case status == 429:
		if class != VerdictRateLimited {
			return 0.3
		}
	case status >= 500:
		if class != VerdictServer && class != VerdictNetwork && class != VerdictRateLimited {
			return 0.3
		}
	default:
		if auth {
			return 0.75
		}
		if authz {
			return 0.6
		}
	}
	return 1
}

func (a *analysis) finish() Diagnosis {
	d := Diagnosis{Status: a.status, Request: a.method + " " + a.displayURL(), Endpoint: a.op, Token: a.cred.token, Notes: a.notes}
	blocked := a.has(FirewallBlock) != nil && a.has(FirewallBlock).legacy >= 0.8 && !a.atlassian
	cached := a.has(CachedResponse) != nil && a.has(CachedResponse).legacy >= 0.7
	for _, c := range a.causes {
		info, _ := LookupCode(c.Code)
		switch c.Code {
		case FirewallBlock, IPAllowlistBlock, HTMLErrorPage, CachedResponse, NetworkError, ServerError, RateLimited:
		default:
			if blocked && (info.Class == VerdictAuthentication || info.Class == VerdictAuthorization) && rank(c.explicit) < rank(knowledge.Decisive) {
				c.legacy *= 0.5 // the request never reached the API
			}
			if cached {
				c.legacy *= 0.75
			}
			if a.accountID != "" && a.status == 403 && info.Class == VerdictAuthentication {
				c.legacy *= 0.5 // Jira authenticated the caller
			}
		}
	}
	a.finishCauses()
	d.Causes = make([]Cause, 0, len(a.causes))
	for _, c := range a.causes {
		if c.Evidence == nil {
			c.Evidence = []string{}
		}
		d.Causes = append(d.Causes, c.Cause)
	}
	d.Verdict = a.verdict(d.Causes)
	d.Summary = a.summary(d)
	return d
}

func (a *analysis) verdict(causes []Cause) string {
	s := a.status
	var v string
	switch {
	case s == 0 && a.in.Context.NetworkErr != nil:
		return VerdictNetwork
	case s == 0:
		v = VerdictOK
	case s < 300:
		return VerdictOK
	case s < 400:
		v = VerdictOK
	case s == 407:
		return VerdictAuthentication
	case s == 401:
		v = VerdictAuthentication
	case s == 403:
		v = VerdictAuthorization
	case s == 429:
		v = VerdictRateLimited
	case s == 404 || s == 410:
		v = VerdictNotFound
	case s >= 500:
		v = VerdictServer
	default:
		v = VerdictClientError
	}
	if len(causes) > 0 && causes[0].Confidence >= 0.7 {
		info, _ := LookupCode(causes[0].Code)
		switch info.Class {
		case VerdictAuthentication, VerdictAuthorization, VerdictNotFound, VerdictRateLimited, VerdictNetwork:
			if s == 0 || s >= 300 {
				return info.Class
			}
		}
	}
	return v
}

func (a *analysis) summary(d Diagnosis) string {
	var b strings.Builder
	switch {
	case a.status == 0 && a.in.Context.NetworkErr != nil:
		b.WriteString("No response: the request failed before reaching the server")
	case a.status == 0:
		b.WriteString("No response status")
	default:
		fmt.Fprintf(&b, "%d %s", a.status, http.StatusText(a.status))
	}
	if a.op != nil {
		fmt.Fprintf(&b, " on %s (%s, Connect scope %s)", a.op.OperationID, a.op.Path, a.op.ConnectScope)
	} else if a.looksLikeProductAPI() {
		b.WriteString(" on an endpoint not in the catalog")
	}
	if top, ok := d.Top(); ok {
		if a.status >= 200 && a.status < 300 {
			fmt.Fprintf(&b, ". The call succeeded; note: %s (%s).", top.Title, top.Code)
		} else {
			fmt.Fprintf(&b, ". Most likely: %s (%s, %.0f%%)", top.Title, top.Code, top.Confidence*100)
			if len(d.Causes) > 1 && d.Causes[1].Confidence >= 0.4 {
				fmt.Fprintf(&b, "; also possible: %s (%.0f%%)", d.Causes[1].Code, d.Causes[1].Confidence*100)
			}
			b.WriteString(".")
		}
	} else if a.status >= 200 && a.status < 400 {
		b.WriteString(": nothing to explain.")
	} else {
		b.WriteString(": no evidence points to a specific cause.")
	}
	return b.String()
}

func (a *analysis) displayURL() string {
	if a.origin != "" {
		return a.origin + a.reqURIRedacted()
	}
	return a.reqURIRedacted()
}

// reqURIRedacted is the request URI with a jwt parameter shortened.
func (a *analysis) reqURIRedacted() string {
	if a.cred.kind != credQuery {
		return a.reqURI
	}
	return strings.Replace(a.reqURI, a.cred.value, short(a.cred.value), 1)
}

func (a *analysis) looksLikeProductAPI() bool {
	return strings.HasPrefix(a.apiPath, "/rest/") && (a.host == "" || siteHost(a.host) || a.gateway || a.atlassian || a.host == a.tenantHost)
}

// toAtlassian reports whether the request targets Jira/Confluence (or the
// caller says it is a Connect call).
func (a *analysis) toAtlassian() bool {
	return a.connect || siteHost(a.host) || a.gateway || a.atlassian || (a.tenantHost != "" && a.host == a.tenantHost) ||
		(a.host == "" && a.op != nil)
}

// runPreflight returns the caller's preflight result or computes one from
// the catalog and the declared scopes.
func (a *analysis) runPreflight() *preflight.Result {
	ctx := &a.in.Context
	if ctx.Preflight != nil {
		return ctx.Preflight
	}
	if a.cat == nil || ctx.DeclaredScopes == nil || !a.connect || a.op == nil {
		return nil
	}
	id := preflight.App
	if a.identity == IdentityUser {
		id = preflight.User
	}
	r := preflight.Predict(a.cat, preflight.Input{Method: a.method, Path: a.apiPath, Identity: id, DeclaredScopes: ctx.DeclaredScopes})
	return &r
}
