package loadtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// Kinds of requests in a run.
const (
	KindPage    = 0 // GET /admin?… with a qsh-bound request token in the query, as Jira loads the iframe
	KindContext = 1 // GET /api/installation with a context token in the header, as the panel calls its API
)

// AuthKinds names KindPage and KindContext.
var AuthKinds = []string{"page", "context"}

const userAgent = "connect-doctor-loadgen"

// acceptEncoding is what Chromium sends on every request, the iframe load
// and fetch() alike. The load generator sends it on every kind, the
// baseline included, and reads the answer as it comes (it does not spend
// its own CPU inflating what the app compressed).
const acceptEncoding = "gzip, deflate, br, zstd"

// browserHeaders sets the headers a browser would send on req.
func browserHeaders(req *http.Request) {
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept-Encoding", acceptEncoding)
}

// AuthPlan is the pool of pre-signed authenticated requests, spread over
// every tenant. Signing happens in Sign, off the measured path; the pool
// is swapped atomically, so Sign may run again (Refresh) while workers
// pick from the previous one.
type AuthPlan struct {
	Target  Target
	Tenants []Tenant
	// PerTenant is the number of distinct tokens of each kind per tenant.
	PerTenant int
	// ContextShare is the fraction of context requests (0..1).
	ContextShare float64
	// PageTTL and ContextTTL are the tokens' lifetimes (exp - iat).
	PageTTL, ContextTTL time.Duration
	// ContextUser sets sub on context tokens. Off by default: with a viewer,
	// /api/installation asks the tenant's Jira whether the viewer is an
	// administrator, an outgoing call this load test does not measure.
	ContextUser bool
	// PagePath and ContextPath are the routes (below the base path) of
	// the two kinds; "" means /admin and /api/installation.
	PagePath, ContextPath string

	pool atomic.Pointer[[][2][]*http.Request] // [tenant][kind][i]
}

// Default routes of the two kinds.
const (
	DefaultPagePath    = "/admin"
	DefaultContextPath = "/api/installation"
)

// pageURI is the iframe URL Jira loads for the admin page, without the jwt
// parameter (which qsh ignores).
func pageURI(basePath string, t Tenant) string { return pageURIFor(basePath, DefaultPagePath, t) }

func pageURIFor(basePath, path string, t Tenant) string {
	return basePath + path + "?cp=&cv=1001.0.0-SNAPSHOT&lic=none&xdm_c=channel-connect-doctor__admin" +
		"&xdm_deprecated_addon_key_do_not_use=connect-doctor&xdm_e=" + url.QueryEscape(t.BaseURL)
}

// Sign (re)builds the pool with tokens issued at now.
func (p *AuthPlan) Sign(now time.Time) error {
	if len(p.Tenants) == 0 {
		return fmt.Errorf("no tenants to sign for")
	}
	per := max(p.PerTenant, 1)
	base := p.Target.BasePath()
	pagePath, ctxPath := p.PagePath, p.ContextPath
	if pagePath == "" {
		pagePath = DefaultPagePath
	}
	if ctxPath == "" {
		ctxPath = DefaultContextPath
	}
	pool := make([][2][]*http.Request, len(p.Tenants))
	for ti, t := range p.Tenants {
		uri := pageURIFor(base, pagePath, t)
		for i := range per {
			// Distinct iat per token, as separate page loads would have.
			iat := now.Add(-time.Duration(i) * time.Second)
			tok, err := RequestToken(t, fmt.Sprintf("557058:loadgen-user-%d", i), http.MethodGet, uri, base, iat, p.PageTTL)
			if err != nil {
				return err
			}
			req, err := http.NewRequest(http.MethodGet, p.Target.url(uri+"&jwt="+tok), nil)
			if err != nil {
				return err
			}
			browserHeaders(req)
			pool[ti][KindPage] = append(pool[ti][KindPage], req)

			sub := ""
			if p.ContextUser {
				sub = fmt.Sprintf("557058:loadgen-user-%d", i)
			}
			ctok, err := ContextToken(t, sub, iat, p.ContextTTL)
			if err != nil {
				return err
			}
			creq, err := http.NewRequest(http.MethodGet, p.Target.url(base+ctxPath), nil)
			if err != nil {
				return err
			}
			creq.Header.Set("Authorization", "JWT "+ctok)
			browserHeaders(creq)
			pool[ti][KindContext] = append(pool[ti][KindContext], creq)
		}
	}
	p.pool.Store(&pool)
	return nil
}

// Refresh re-signs the pool every interval until ctx ends, so that runs
// longer than the tokens' lifetime never send an expired token.
func (p *AuthPlan) Refresh(ctx context.Context, every time.Duration, now func() time.Time, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.Sign(now()); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}

// Pick chooses a tenant uniformly, a kind by ContextShare, and one of the
// tenant's tokens of that kind.
func (p *AuthPlan) Pick(rng *rand.Rand) Request {
	pool := *p.pool.Load()
	t := &pool[rng.IntN(len(pool))]
	kind := KindPage
	if rng.Float64() < p.ContextShare {
		kind = KindContext
	}
	reqs := t[kind]
	return Request{Kind: kind, HTTP: reqs[rng.IntN(len(reqs))]}
}

// BaselinePicker always sends GET <base path>/healthz: the bare
// unauthenticated route the authenticated throughput is compared with.
func BaselinePicker(target Target) (Picker, error) {
	req, err := http.NewRequest(http.MethodGet, target.url(target.BasePath()+"/healthz"), nil)
	if err != nil {
		return nil, err
	}
	browserHeaders(req)
	return func(*rand.Rand) Request { return Request{HTTP: req} }, nil
}

// BaselineKinds names the baseline's only kind.
var BaselineKinds = []string{"healthz"}
