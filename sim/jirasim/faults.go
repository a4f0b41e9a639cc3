package jirasim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FaultKind names a fault the simulator can inject.
type FaultKind int

// The faults. Each produces what the real infrastructure produces.
const (
	// ClockSkew moves the site's clock (and the token server's) by Skew:
	// tokens the site mints are off by Skew and the app's JWTs are judged
	// against the skewed clock. Count is ignored.
	ClockSkew FaultKind = iota + 1
	// RateLimit answers 429 with Retry-After (RetryAfter, default 5 s).
	RateLimit
	// Unavailable answers 503 Service Unavailable.
	Unavailable
	// Slow delays responses by Delay (default 2 s).
	Slow
	// FirewallBlock answers a CDN/WAF HTML 403 page from a different
	// server (Server: cloudflare, CF-Ray).
	FirewallBlock
	// CachedUnauthorized answers a proxy-cached 401 (Age, X-Cache: HIT, Via).
	CachedUnauthorized
	// IPAllowlist refuses authenticated requests with a 403 about the
	// organisation's IP allowlist.
	IPAllowlist
	// KeyServerDown makes the install key server answer 500 (or, with
	// Drop, close the connection).
	KeyServerDown
	// TokenServerDown makes the OAuth token server answer 503 (or, with
	// Drop, close the connection).
	TokenServerDown
)

var faultNames = map[FaultKind]string{
	ClockSkew: "clock-skew", RateLimit: "rate-limit", Unavailable: "unavailable", Slow: "slow",
	FirewallBlock: "firewall", CachedUnauthorized: "cached-401", IPAllowlist: "ip-allowlist",
	KeyServerDown: "key-server-down", TokenServerDown: "token-server-down",
}

func (k FaultKind) String() string {
	if n, ok := faultNames[k]; ok {
		return n
	}
	return "fault(" + strconv.Itoa(int(k)) + ")"
}

// ParseFaultKind reads a fault name as printed by FaultKind.String
// ("rate-limit", "clock-skew", …).
func ParseFaultKind(name string) (FaultKind, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for k, v := range faultNames {
		if v == n {
			return k, nil
		}
	}
	names := make([]string, 0, len(faultNames))
	for k := ClockSkew; k <= TokenServerDown; k++ {
		names = append(names, faultNames[k])
	}
	return 0, fmt.Errorf("jirasim: unknown fault %q (known: %s)", name, strings.Join(names, ", "))
}

// Fault is one injected fault.
type Fault struct {
	Kind       FaultKind
	Skew       time.Duration // ClockSkew: positive = the site's clock is ahead
	RetryAfter time.Duration // RateLimit (default 5 s), Unavailable (0 = no header)
	Delay      time.Duration // Slow (default 2 s)
	// Count is how many responses the fault affects; 0 means until
	// ClearFaults.
	Count int
	// AppKey limits the fault to requests from one app (by the app key of
	// its JWT or its user token); "" applies to every request.
	AppKey string
	// Status overrides the fault's status code (KeyServerDown,
	// TokenServerDown, Unavailable).
	Status int
	// Drop closes the connection without an answer instead (KeyServerDown,
	// TokenServerDown, Unavailable).
	Drop bool
}

type faultState struct {
	Fault
	remaining int
}

// SetFault injects a fault. Several faults may be active at once; the
// site applies them in the order the real edge would (slow, firewall,
// proxy cache, outage, rate limit, then IP allowlist after authentication).
func (s *Sim) SetFault(f Fault) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f, remaining: f.Count})
	s.log.Info("jirasim: fault set", "kind", f.Kind.String(), "app", f.AppKey, "count", f.Count)
}

// ClearFaults removes every fault.
func (s *Sim) ClearFaults() {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.faults = nil
}

// Faults returns the faults still active.
func (s *Sim) Faults() []Fault {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	out := make([]Fault, len(s.faults))
	for i, f := range s.faults {
		out[i] = f.Fault
		if f.Count > 0 {
			out[i].Count = f.remaining
		}
	}
	return out
}

// takeFault consumes one response of the first active fault of kind that
// applies to appKey.
func (s *Sim) takeFault(kind FaultKind, appKey string) (Fault, bool) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	for i, f := range s.faults {
		if f.Kind != kind || (f.AppKey != "" && f.AppKey != appKey) {
			continue
		}
		out := f.Fault
		if f.Count > 0 {
			f.remaining--
			if f.remaining <= 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return out, true
	}
	return Fault{}, false
}

// skew sums the clock skew faults that apply to appKey.
func (s *Sim) skew(appKey string) time.Duration {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	var d time.Duration
	for _, f := range s.faults {
		if f.Kind == ClockSkew && (f.AppKey == "" || f.AppKey == appKey) {
			d += f.Skew
		}
	}
	return d
}

// dropConnection closes the client's connection without an answer, like a
// server that is down behind a load balancer resetting connections.
func dropConnection(w http.ResponseWriter) {
	if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = c.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

// edgeFault applies the faults that happen in front of Jira (CDN, proxy,
// load balancer) and reports whether one answered the request.
func (s *Sim) edgeFault(w http.ResponseWriter, r *http.Request, appKey string) (string, bool) {
	if f, ok := s.takeFault(Slow, appKey); ok {
		d := f.Delay
		if d <= 0 {
			d = 2 * time.Second
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if _, ok := s.takeFault(FirewallBlock, appKey); ok {
		ray := s.rayID()
		h := w.Header()
		h.Set("Server", "cloudflare")
		h.Set("CF-Ray", ray)
		h.Set("CF-Cache-Status", "DYNAMIC")
		h.Set("Content-Type", "text/html; charset=UTF-8")
		h.Set("Cache-Control", "private, max-age=0, no-store, no-cache, must-revalidate")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, firewallPage, ray, r.RemoteAddr)
		return FirewallBlock.String(), true
	}
	if _, ok := s.takeFault(CachedUnauthorized, appKey); ok {
		h := w.Header()
		h.Set("Age", "187")
		h.Set("X-Cache", "HIT")
		h.Set("Via", "1.1 varnish (Varnish/7.4), 1.1 corp-proxy.example.com")
		h.Set("Cache-Control", "public, max-age=600")
		h.Set("WWW-Authenticate", s.wwwAuthenticate())
		h.Set("X-Seraph-LoginReason", "AUTHENTICATED_FAILED")
		h.Set("Date", s.now().Add(-187*time.Second).UTC().Format(http.TimeFormat))
		s.writeError(w, r, http.StatusUnauthorized, anonBody())
		return CachedUnauthorized.String(), true
	}
	if f, ok := s.takeFault(Unavailable, appKey); ok {
		if f.Drop {
			dropConnection(w)
			return Unavailable.String(), true
		}
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter.Round(time.Second)/time.Second)))
		}
		status := http.StatusServiceUnavailable
		if f.Status != 0 {
			status = f.Status
		}
		s.writeError(w, r, status, errorMessages("Service Unavailable: the site is temporarily unable to handle the request. Please try again later."))
		return Unavailable.String(), true
	}
	if f, ok := s.takeFault(RateLimit, appKey); ok {
		ra := f.RetryAfter
		if ra <= 0 {
			ra = 5 * time.Second
		}
		secs := int((ra + time.Second - 1) / time.Second)
		h := w.Header()
		h.Set("Retry-After", strconv.Itoa(secs))
		h.Set("X-RateLimit-Limit", "350")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", s.siteNow(appKey).Add(ra).UTC().Format("2006-01-02T15:04Z"))
		h.Set("RateLimit-Reason", "jira-burst-based")
		s.writeError(w, r, http.StatusTooManyRequests, errorMessages("Rate limit exceeded."))
		return RateLimit.String(), true
	}
	return "", false
}

func (s *Sim) rayID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pick(hexDigits, 16) + "-FRA"
}

// ipAllowlistMessage is simulated wording: the notes do not capture the
// text Atlassian's IP allowlist returns to API clients.
const ipAllowlistMessage = "Your organization's IP allowlist does not include the IP address this request came from. Ask an organization admin to add it, or send the request from an allowed network."

const firewallPage = `<!DOCTYPE html>
<html lang="en-US"><head><title>Attention Required! | Cloudflare</title>
<meta charset="UTF-8"></head>
<body><div id="cf-wrapper"><div id="cf-error-details">
<h1>Sorry, you have been blocked</h1>
<h2>You are unable to access this site</h2>
<p>This website is using a security service to protect itself from online attacks.
The action you just performed triggered the security solution.</p>
<p>Cloudflare Ray ID: <strong>%s</strong> &bull; Your IP: %s &bull; Performance &amp; security by Cloudflare</p>
</div></div></body></html>
`

// ParseFault reads a fault written as "kind[,key=value…]", for command-line
// flags: keys are skew, retry-after, delay (Go durations), count, status
// (integers), app (an app key) and drop (true/false). Examples:
// "rate-limit,count=3,retry-after=10s", "clock-skew,skew=-90s,app=my-app".
func ParseFault(spec string) (Fault, error) {
	parts := strings.Split(spec, ",")
	kind, err := ParseFaultKind(parts[0])
	if err != nil {
		return Fault{}, err
	}
	f := Fault{Kind: kind}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return Fault{}, fmt.Errorf("jirasim: fault %q: %q is not key=value", spec, p)
		}
		var err error
		switch strings.ToLower(k) {
		case "skew":
			f.Skew, err = time.ParseDuration(v)
		case "retry-after", "retryafter":
			f.RetryAfter, err = time.ParseDuration(v)
		case "delay":
			f.Delay, err = time.ParseDuration(v)
		case "count":
			f.Count, err = strconv.Atoi(v)
		case "status":
			f.Status, err = strconv.Atoi(v)
		case "app":
			f.AppKey = v
		case "drop":
			f.Drop, err = strconv.ParseBool(v)
		default:
			err = fmt.Errorf("unknown key %q (known: skew, retry-after, delay, count, status, app, drop)", k)
		}
		if err != nil {
			return Fault{}, fmt.Errorf("jirasim: fault %q: %w", spec, err)
		}
	}
	return f, nil
}
