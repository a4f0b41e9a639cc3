package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"time"
)

// InstallOptions configure the install phase.
type InstallOptions struct {
	Transport   http.RoundTripper
	Target      Target
	Signer      *InstallSigner
	AppKey      string
	Tenants     []Tenant
	Concurrency int
	// Chunk is how many callbacks are signed ahead (untimed) before being
	// sent (timed); 0 means 2,000. Signing everything first would let the
	// 3-minute tokens of a very large population expire before use.
	Chunk int
	Now   func() time.Time
}

// InstallResult is what the install phase measured. Seconds counts only
// the time spent sending; SignSeconds is the generator's own RSA work.
type InstallResult struct {
	Tenants         int               `json:"tenants"`
	Concurrency     int               `json:"concurrency"`
	Installed       uint64            `json:"installed"`
	Seconds         float64           `json:"seconds"`
	SignSeconds     float64           `json:"sign_seconds"`
	PerSec          float64           `json:"installs_per_sec"`
	Status          map[string]uint64 `json:"non_2xx"`
	TransportErrors map[string]uint64 `json:"transport_errors"`
	Latency         Summary           `json:"latency"`
}

// Errors is the number of failed installs.
func (r *InstallResult) Errors() uint64 {
	rr := RunResult{Status: r.Status, TransportErrors: r.TransportErrors}
	return rr.Errors()
}

// Install posts one signed installed callback per tenant, Concurrency at a
// time.
func Install(ctx context.Context, o InstallOptions) (*InstallResult, error) {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.Chunk <= 0 {
		o.Chunk = 2000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	base := o.Target.BasePath()
	path := base + "/installed"
	tallies := make([]*tally, o.Concurrency)
	for i := range tallies {
		tallies[i] = newTally(1)
	}
	var sent, signing time.Duration
	for from := 0; from < len(o.Tenants); from += o.Chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		chunk := o.Tenants[from:min(from+o.Chunk, len(o.Tenants))]
		t0 := time.Now()
		reqs, err := signInstalls(o, chunk, path)
		if err != nil {
			return nil, err
		}
		t1 := time.Now()
		signing += t1.Sub(t0)
		next := make(chan *http.Request)
		var wg sync.WaitGroup
		for w := range o.Concurrency {
			t := tallies[w]
			wg.Go(func() {
				for req := range next {
					s := time.Now()
					status, err := roundTrip(ctx, o.Transport, req)
					t.record(0, time.Since(s), status, err)
				}
			})
		}
	feed:
		for _, r := range reqs {
			select {
			case next <- r:
			case <-ctx.Done():
				break feed
			}
		}
		close(next)
		wg.Wait()
		sent += time.Since(t1)
	}
	rr := result([]string{"install"}, tallies, o.Concurrency, sent)
	return &InstallResult{
		Tenants: len(o.Tenants), Concurrency: o.Concurrency, Installed: rr.OK, Seconds: sent.Seconds(),
		SignSeconds: signing.Seconds(), PerSec: rr.PerSec, Status: rr.Status, TransportErrors: rr.TransportErrors, Latency: rr.Latency,
	}, nil
}

// signInstalls builds the signed callbacks of a chunk on every core.
func signInstalls(o InstallOptions, tenants []Tenant, path string) ([]*http.Request, error) {
	reqs := make([]*http.Request, len(tenants))
	errs := make([]error, len(tenants))
	now := o.Now()
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(tenants); i += workers {
				reqs[i], errs[i] = installRequest(o, tenants[i], path, now)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return reqs, nil
}

func installRequest(o InstallOptions, t Tenant, path string, now time.Time) (*http.Request, error) {
	body, err := json.Marshal(InstallPayload(t, o.AppKey))
	if err != nil {
		return nil, err
	}
	tok, err := o.Signer.InstallToken(t.ClientKey, o.Target.AppBaseURL, http.MethodPost, path, now, JiraPageTokenTTL)
	if err != nil {
		return nil, fmt.Errorf("signing the install of %s: %w", t.ClientKey, err)
	}
	req, err := http.NewRequest(http.MethodPost, o.Target.url(path), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	req.Header.Set("Authorization", "JWT "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	return req, nil
}
