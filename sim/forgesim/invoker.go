package forgesim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Invocation kinds, which decide timeout, retries, FIT module and which
// OAuth tokens Forge may attach (forge.md §1.2).
const (
	KindEvent        = "event"        // product and lifecycle events (trigger): POST, 5 s, 4 retries
	KindScheduled    = "scheduled"    // scheduledTrigger: POST, 5 s, 4 retries, never a user token
	KindPreUninstall = "preUninstall" // preUninstall: POST, 55 s, no retries
	KindUI           = "ui"           // frontend invokeRemote: any method, 25 s, no retries
)

// Timeouts and retry policy (forge.md §1.1, §1.2, §1.5).
const (
	UITimeout           = 25 * time.Second
	EventTimeout        = 5 * time.Second
	PreUninstallTimeout = 55 * time.Second
	// EventRetries is the number of redeliveries after a failed first
	// delivery. forge.md says "Retries: 4" and "up to 4 attempts, 60 s
	// apart"; the simulator reads it as four retries after the first try.
	EventRetries    = 4
	EventRetryDelay = 60 * time.Second
)

// retryReason values (forge.md §1.5).
const (
	RetryInvalidRemote = "INVALID_REMOTE_INVOCATION_ERROR"
	RetryTimeout       = "TIMEOUT_ERROR"
	RetryInvalidFIT    = "INVALID_FORGE_INVOCATION_TOKEN"
)

// InvokerOptions configure NewInvoker.
type InvokerOptions struct {
	// Minter signs the FITs; its Key and KID must be set. Per-invocation
	// claims (installation, cloud, environment, module, principal) come
	// from the Gateway's installation.
	Minter *Minter
	// Gateway issues the OAuth tokens and knows the installations.
	Gateway *Gateway
	// HTTPClient calls the remote; redirects are never followed (Forge
	// counts a 3xx as an error). Default: a fresh client.
	HTTPClient *http.Client
	// Timeout per attempt; zero means the kind's documented timeout.
	Timeout time.Duration
	// Retries for events and scheduled triggers; zero means EventRetries,
	// negative means none.
	Retries int
	// RetryDelay between deliveries; zero means EventRetryDelay.
	RetryDelay time.Duration
	// Sleep waits between deliveries (inject a no-op in tests). Default:
	// a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// NestPayload sends event bodies as {"payload": {…}} with retryContext
	// inside, the shape of the docs example; by default the event fields
	// and retryContext are at the top level, as third-party handlers see
	// them (forge.md §1.5).
	NestPayload bool
}

// InvocationSpec describes one call from Forge to a remote.
type InvocationSpec struct {
	InstallationID string
	// AccountID is the user in session (UI calls): the FIT principal and
	// the owner of the user token.
	AccountID string
	// Event is the JSON body (nil: none).
	Event any
	// WithSystemToken and WithUserToken are the endpoint's
	// auth.appSystemToken / auth.appUserToken. As in Forge, a system
	// token is attached only when the installation holds
	// read:app-system-token, and a user token only for KindUI with an
	// AccountID and read:app-user-token: never to triggers, scheduled
	// triggers or pre-uninstall calls.
	WithSystemToken, WithUserToken bool
	// Kind is KindEvent (default), KindScheduled, KindPreUninstall or KindUI.
	Kind string
	// Method of a UI call (default POST; events are always POST).
	Method string
	// Header holds custom request headers (UI calls).
	Header http.Header
	// ModuleKey is the FIT's app.module.key (defaults per kind).
	ModuleKey string
	// FITOptions adjust the minted FIT (e.g. WithLifetime, WithClaim).
	FITOptions []Option
}

// Delivery is one attempt the invoker made.
type Delivery struct {
	Attempt     int // 1 = first delivery
	URL         string
	Status      int // 0 on a transport error or timeout
	RetryReason string
	Err         error
	SystemToken bool
	UserToken   bool
}

// Invoker plays Forge calling a remote.
type Invoker struct {
	o InvokerOptions

	mu         sync.Mutex
	deliveries []Delivery
}

// NewInvoker returns an invoker. It panics if Minter or Gateway is nil.
func NewInvoker(o InvokerOptions) *Invoker {
	if o.Minter == nil || o.Gateway == nil {
		panic("forgesim: NewInvoker needs a Minter and a Gateway")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	c := *o.HTTPClient
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.HTTPClient = &c
	if o.Retries == 0 {
		o.Retries = EventRetries
	} else if o.Retries < 0 {
		o.Retries = 0
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = EventRetryDelay
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return &Invoker{o: o}
}

// Deliveries returns the attempts made so far, oldest first.
func (iv *Invoker) Deliveries() []Delivery {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	return slices.Clone(iv.deliveries)
}

func (iv *Invoker) log(d Delivery) {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	iv.deliveries = append(iv.deliveries, d)
}

// maxBody caps the remote's answer the invoker keeps.
const maxBody = 1 << 20

// Invoke calls remoteURL+path as Forge would for spec: a fresh FIT in
// Authorization: Bearer, the OAuth headers the spec and installation allow,
// b3 trace headers and Content-Type: application/json. Events and scheduled
// triggers are retried on a non-2xx answer or a timeout (3xx included), each
// retry with a new FIT and retryContext {retryCount, retryData: null,
// retryReason} in the body. The last response is returned with its body
// buffered; the error is set when the last attempt failed in transport.
func (iv *Invoker) Invoke(ctx context.Context, remoteURL, path string, spec InvocationSpec) (*http.Response, error) {
	if spec.Kind == "" {
		spec.Kind = KindEvent
	}
	in, ok := iv.o.Gateway.Installation(spec.InstallationID)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownInstallation, spec.InstallationID)
	}
	method := http.MethodPost
	if spec.Kind == KindUI && spec.Method != "" {
		method = strings.ToUpper(spec.Method)
	}
	retries := 0
	if spec.Kind == KindEvent || spec.Kind == KindScheduled {
		retries = iv.o.Retries
	}
	target := strings.TrimSuffix(remoteURL, "/") + path
	var (
		resp   *http.Response
		err    error
		reason string
	)
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			if err := iv.o.Sleep(ctx, iv.o.RetryDelay); err != nil {
				return resp, err
			}
		}
		body, berr := iv.body(spec.Event, attempt, reason)
		if berr != nil {
			return nil, berr
		}
		fit, merr := iv.fit(in, spec)
		if merr != nil {
			return nil, merr
		}
		inv := Invocation{FIT: fit, Custom: spec.Header}
		if spec.WithSystemToken && in.HasScope("read:app-system-token") {
			inv.SystemToken, _ = iv.o.Gateway.SystemToken(in.InstallationID)
		}
		if spec.WithUserToken && spec.Kind == KindUI && spec.AccountID != "" && in.HasScope("read:app-user-token") {
			inv.UserToken, _ = iv.o.Gateway.UserToken(in.InstallationID, spec.AccountID)
		}
		resp, err = iv.do(ctx, method, target, body, inv.Header(), iv.timeout(spec.Kind))
		d := Delivery{Attempt: attempt + 1, URL: target, Err: err, SystemToken: inv.SystemToken != "", UserToken: inv.UserToken != ""}
		if resp != nil {
			d.Status = resp.StatusCode
		}
		reason = ""
		switch {
		case err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			reason = RetryTimeout
		case err != nil:
			iv.log(d)
			return resp, err
		case resp.StatusCode == http.StatusUnauthorized:
			reason = RetryInvalidFIT
		case resp.StatusCode < 200 || resp.StatusCode > 299:
			reason = RetryInvalidRemote
		}
		d.RetryReason = reason
		iv.log(d)
		if reason == "" {
			return resp, nil
		}
	}
	return resp, err
}

func (iv *Invoker) timeout(kind string) time.Duration {
	if iv.o.Timeout > 0 {
		return iv.o.Timeout
	}
	switch kind {
	case KindUI:
		return UITimeout
	case KindPreUninstall:
		return PreUninstallTimeout
	}
	return EventTimeout
}

// body renders the event, adding retryContext on a retry.
func (iv *Invoker) body(event any, attempt int, reason string) ([]byte, error) {
	if event == nil {
		return nil, nil
	}
	if b, ok := event.([]byte); ok {
		return b, nil
	}
	raw, err := json.Marshal(event)
	if err != nil {
		return nil, fmt.Errorf("forgesim: event: %w", err)
	}
	var obj map[string]any
	if json.Unmarshal(raw, &obj) != nil {
		return raw, nil // not an object: sent as is
	}
	if attempt > 0 {
		obj["retryContext"] = map[string]any{"retryCount": attempt, "retryData": nil, "retryReason": reason}
	}
	if iv.o.NestPayload {
		return json.Marshal(map[string]any{"payload": obj})
	}
	return json.Marshal(obj)
}

// fit mints the FIT for an invocation of the installation.
func (iv *Invoker) fit(in *Installation, spec InvocationSpec) (string, error) {
	m := *iv.o.Minter
	m.AppID = in.AppID
	m.InstallationID = in.InstallationID
	m.CloudID = in.CloudID
	m.APIBaseURL = iv.o.Gateway.APIBaseURL(in.CloudID)
	m.EnvironmentType = in.Environment
	m.ModuleType, m.ModuleKey = "core:endpoint", "doctor-events"
	if spec.Kind == KindPreUninstall {
		// The preUninstall module's own endpoint, as forge/manifest
		// generates it: a remote serves each event route to one endpoint.
		m.ModuleKey = "doctor-uninstall"
	}
	opts := []Option{}
	if spec.Kind == KindUI {
		m.ModuleType, m.ModuleKey = "jira:adminPage", "doctor-admin"
		site, _ := iv.o.Gateway.SiteURL(in.CloudID)
		opts = append(opts, WithClaim("context", map[string]any{
			"cloudId": in.CloudID, "siteUrl": site, "moduleKey": "doctor-admin", "localId": "doctor-admin",
			"extension": map[string]any{"type": "jira:adminPage"},
		}))
		if spec.AccountID != "" {
			opts = append(opts, WithPrincipal(spec.AccountID))
		}
	}
	if spec.ModuleKey != "" {
		m.ModuleKey = spec.ModuleKey
	}
	return m.Mint(append(opts, spec.FITOptions...)...)
}

// do sends one request with its own timeout and buffers the answer so the
// caller can read it after the attempt's context is gone.
func (iv *Invoker) do(ctx context.Context, method, url string, body []byte, h http.Header, timeout time.Duration) (*http.Response, error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, url, rd)
	if err != nil {
		return nil, err
	}
	req.Header = h.Clone()
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := iv.o.HTTPClient.Do(req)
	if err != nil {
		if actx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("forgesim: %s %s: %w", method, url, context.DeadlineExceeded)
		}
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		if actx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("forgesim: reading %s: %w", url, context.DeadlineExceeded)
		}
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// RequestRemote plays @forge/bridge requestRemote: the browser calls the
// remote directly with a FIT (a UI FIT with context and principal) and
// never with OAuth tokens, no Forge proxy, no retries. body is sent as JSON
// unless it is []byte (sent as is) or nil (no body).
func (iv *Invoker) RequestRemote(ctx context.Context, remoteURL, path, method string, body any, installationID, accountID string) (*http.Response, error) {
	in, ok := iv.o.Gateway.Installation(installationID)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownInstallation, installationID)
	}
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("forgesim: body: %w", err)
		}
	}
	fit, err := iv.fit(in, InvocationSpec{Kind: KindUI, AccountID: accountID})
	if err != nil {
		return nil, err
	}
	if method == "" {
		method = http.MethodGet
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+fit)
	h.Set("Accept", "application/json")
	target := strings.TrimSuffix(remoteURL, "/") + path
	resp, err := iv.do(ctx, strings.ToUpper(method), target, b, h, iv.timeout(KindUI))
	d := Delivery{Attempt: 1, URL: target, Err: err}
	if resp != nil {
		d.Status = resp.StatusCode
	}
	iv.log(d)
	return resp, err
}
