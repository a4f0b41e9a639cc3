package jira

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/oauth"
	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// numberedExchanger hands out tok-1, tok-2, … and records the scopes asked.
type numberedExchanger struct {
	n      atomic.Int64
	err    error
	scopes atomic.Value
}

func (e *numberedExchanger) Exchange(_ context.Context, t *tenant.Tenant, accountID string, scopes scope.Set) (*oauth.Token, error) {
	n := e.n.Add(1)
	e.scopes.Store(scopes.String())
	if e.err != nil {
		return nil, e.err
	}
	return &oauth.Token{AccessToken: fmt.Sprintf("tok-%d", n), TokenType: "Bearer", Expiry: fixedNow.Add(15 * time.Minute), Scopes: scopes}, nil
}

func userSetup(t *testing.T) (*fakeJira, *numberedExchanger, *oauth.Cache, *Client) {
	f := newFakeJira(t, "")
	ex := &numberedExchanger{}
	cache := oauth.NewCache(ex, oauth.CacheOptions{Now: func() time.Time { return fixedNow }})
	c, _ := newTestClient(f, cache, RetryPolicy{})
	return f, ex, cache, c
}

func TestAsUserSendsBearer(t *testing.T) {
	f, ex, cache, c := userSetup(t)
	f.acceptBearer("tok-1", true)
	d := c.AsUser(f.tenant, "5b10ac8d82e05b22cc7d4ef5", scope.Write, scope.Read)
	for range 3 {
		if _, err := d.Call(t.Context(), "GET", "/rest/api/3/myself", nil); err != nil {
			t.Fatal(err)
		}
	}
	s := f.seen()
	if len(s) != 3 || s[2].Auth != "bearer" || s[2].Token != "tok-1" {
		t.Errorf("requests %+v", s)
	}
	if ex.n.Load() != 1 || cache.Stats().Hits != 2 {
		t.Errorf("%d exchanges, stats %+v", ex.n.Load(), cache.Stats())
	}
	if got := ex.scopes.Load(); got != "READ,WRITE" {
		t.Errorf("scopes asked %v", got)
	}
	if s[0].UserAgent != testAppKey+"/1.2.3 (connect-doctor)" {
		t.Errorf("User-Agent %q", s[0].UserAgent)
	}
}

func TestAsUser401EvictsTokenAndRetriesOnce(t *testing.T) {
	f, ex, cache, c := userSetup(t)
	f.allowFail = true
	f.acceptBearer("tok-2", true) // tok-1 (the cached one) is refused
	d := c.AsUser(f.tenant, "acc-1")
	resp, err := d.Call(t.Context(), "PUT", "/rest/api/3/issue/TEST-1", []byte(`{"fields":{"summary":"new"}}`))
	if err != nil {
		t.Fatal(err)
	}
	s := f.seen()
	if len(s) != 2 || s[0].Token != "tok-1" || s[1].Token != "tok-2" || s[1].Body != `{"fields":{"summary":"new"}}` {
		t.Errorf("requests %+v", s)
	}
	if resp.Attempts != 2 || ex.n.Load() != 2 {
		t.Errorf("attempts %d exchanges %d", resp.Attempts, ex.n.Load())
	}
	// The fresh token is the one cached now.
	tok, _ := cache.Token(t.Context(), f.tenant, "acc-1", nil)
	if tok.AccessToken != "tok-2" {
		t.Errorf("cached %q", tok.AccessToken)
	}
}

func TestAsUser401TwiceGivesUp(t *testing.T) {
	f, ex, _, c := userSetup(t)
	f.allowFail = true // no token is accepted
	_, err := c.AsUser(f.tenant, "acc-1").Call(t.Context(), "GET", "/rest/api/3/myself", nil)
	ae, ok := errors.AsType[*APIError](err)
	if !ok {
		t.Fatalf("err %v", err)
	}
	if len(f.seen()) != 2 || ex.n.Load() != 2 {
		t.Errorf("%d requests, %d exchanges; want exactly one retry", len(f.seen()), ex.n.Load())
	}
	if ae.StatusCode != 401 || ae.Identity != IdentityUser || ae.AccountID != "acc-1" || ae.Cause != CauseTokenRefreshed || ae.Attempts != 2 {
		t.Errorf("APIError %+v", ae)
	}
	if ae.Header.Get("X-Seraph-LoginReason") != "AUTHENTICATED_FAILED" || ae.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("diagnostic headers %v", ae.Header)
	}
	if ae.Message() != "Client must be authenticated to access this resource." {
		t.Errorf("message %q", ae.Message())
	}
}

func TestAsUserTokenFailure(t *testing.T) {
	f := newFakeJira(t, "")
	ex := &numberedExchanger{err: &oauth.Error{StatusCode: 400, Code: "invalid_grant", Description: "Unknown user", Server: "s"}}
	c, _ := newTestClient(f, oauth.NewCache(ex, oauth.CacheOptions{}), RetryPolicy{})
	_, err := c.AsUser(f.tenant, "ghost").Call(t.Context(), "GET", "/rest/api/3/myself", nil)
	if !errors.Is(err, ErrToken) || !errors.Is(err, oauth.ErrInvalidGrant) {
		t.Errorf("err = %v", err)
	}
	if oe, ok := errors.AsType[*oauth.Error](err); !ok || oe.Description != "Unknown user" {
		t.Errorf("oauth.Error not reachable: %v", err)
	}
	if len(f.seen()) != 0 || ex.n.Load() != 1 {
		t.Errorf("%d requests sent, %d exchanges (a token failure must not be retried)", len(f.seen()), ex.n.Load())
	}
}

func TestAsUserConfiguration(t *testing.T) {
	f := newFakeJira(t, "")
	c := New(Options{AppKey: testAppKey})
	if _, err := c.AsUser(f.tenant, "acc").Call(t.Context(), "GET", "/rest/api/3/myself", nil); !errors.Is(err, ErrConfig) {
		t.Errorf("no token source: %v", err)
	}
	c = New(Options{AppKey: testAppKey, Tokens: oauth.NewCache(&numberedExchanger{}, oauth.CacheOptions{})})
	if _, err := c.AsUser(f.tenant, "").Call(t.Context(), "GET", "/rest/api/3/myself", nil); !errors.Is(err, ErrConfig) {
		t.Errorf("no accountId: %v", err)
	}
	if _, err := New(Options{}).AsApp(f.tenant).Call(t.Context(), "GET", "/rest/api/3/myself", nil); !errors.Is(err, ErrConfig) {
		t.Errorf("no app key: %v", err)
	}
	if len(f.seen()) != 0 {
		t.Errorf("%d requests sent", len(f.seen()))
	}
}
