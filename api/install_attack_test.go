package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/storage/storagetest"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// The install matrix (issue 16 items 6 and 8): attacks on the install
// callbacks that need several requests — a captured token replayed with
// another body, on this instance or another sharing the database, and
// floods of unauthenticated callbacks that must not grow the database.
// Each case returns nil when defended.

type installAttack struct {
	name, attack string
	run          func(t *testing.T, dsn string) error
	// shared needs a database several instances share (PostgreSQL; the
	// embedded SQLite file serves one instance).
	shared bool
}

func lifecycleRows(t *testing.T, h *harness) int64 {
	var n int64
	if err := h.app.DB.Gorm.Model(&storage.LifecycleEvent{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func secretOf(t *testing.T, h *harness, ck string) string {
	ten, err := h.app.Store.Get(context.Background(), ck)
	if err != nil {
		t.Fatal(err)
	}
	return ten.SharedSecret
}

// replay installs with a genuine token, then posts the same token with
// another sharedSecret to second (the same or another instance).
func replay(t *testing.T, first, second *harness, path string) error {
	b, auth := first.signLifecycle("/installed", payload("ck-replay", "first-genuine-secret-0123456789abcdef", "installed"), nil)
	if r := first.do("POST", "/installed", auth, b); r.StatusCode != 204 {
		t.Fatalf("control: genuine install %d", r.StatusCode)
	}
	p := payload("ck-replay", "attacker-chosen-secret-0123456789abcdef", "installed")
	if path == "/uninstalled" {
		p = payload("ck-replay", "", "uninstalled")
	}
	r := second.do("POST", path, auth, mustJSON(p))
	var err error
	if r.StatusCode != 401 {
		err = fmt.Errorf("replay answered %d", r.StatusCode)
	} else if code := errorCode(t, r); code != "token_replayed" && path == "/installed" {
		err = fmt.Errorf("replay refused with %q, want token_replayed", code)
	}
	if s := secretOf(t, first, "ck-replay"); s != "first-genuine-secret-0123456789abcdef" {
		err = errors.Join(err, errors.New("the replayed body replaced the shared secret"))
	}
	return err
}

func stateOf(t *testing.T, h *harness, ck string) tenant.State {
	ten, err := h.app.Store.Get(context.Background(), ck)
	if err != nil {
		t.Fatal(err)
	}
	return ten.State
}

// refusedAsReplay checks a replay's answer: 401 token_replayed.
func refusedAsReplay(t *testing.T, r *http.Response) error {
	if r.StatusCode != 401 {
		return fmt.Errorf("the replay answered %d", r.StatusCode)
	}
	if code := errorCode(t, r); code != "token_replayed" {
		return fmt.Errorf("the replay was refused with %q, want token_replayed", code)
	}
	return nil
}

// hsLifecycle signs an enabled or disabled callback with secret.
func hsLifecycle(ck, secret, path string) (auth string, body []byte) {
	return "JWT " + hsToken(ck, secret, "POST", path), mustJSON(payload(ck, "", strings.TrimPrefix(path, "/")))
}

// replayAfterChange runs the neighbours of item 6 that the body check
// cannot see: a lifecycle callback replayed unchanged (same token, same
// body) after the installation moved on. first and second may be two
// instances on one database.
func replayAfterChange(t *testing.T, first, second *harness, kind string) error {
	const s1, s2 = "moved-on-secret-one-0123456789abcdef", "moved-on-secret-two-0123456789abcdef"
	// The cases of one run share a database, and HS256 tokens minted in the
	// same second for the same issuer and request are identical: one
	// clientKey per case and run.
	ck := fmt.Sprintf("ck-%s-%d", strings.ReplaceAll(kind, " ", "-"), time.Now().UnixNano())
	ok := func(r *http.Response, what string) {
		t.Helper()
		if r.StatusCode != 204 {
			t.Fatalf("control: %s answered %d %s", what, r.StatusCode, errorCode(t, r))
		}
	}
	switch kind {
	case "install after reinstall": // the real bug: the replay restored s1
		b, auth := first.signLifecycle("/installed", payload(ck, s1, "installed"), nil)
		ok(first.do("POST", "/installed", auth, b), "install")
		ok(first.signedLifecycle("/installed", payload(ck, s2, "installed"), nil), "reinstall")
		err := refusedAsReplay(t, second.do("POST", "/installed", auth, b))
		if s := secretOf(t, first, ck); s != s2 {
			err = errors.Join(err, errors.New("the replayed install restored the old shared secret"))
		}
		return err
	case "install after disable":
		b, auth := first.signLifecycle("/installed", payload(ck, s1, "installed"), nil)
		ok(first.do("POST", "/installed", auth, b), "install")
		a, body := hsLifecycle(ck, s1, "/disabled")
		ok(first.do("POST", "/disabled", a, body), "disable")
		err := refusedAsReplay(t, second.do("POST", "/installed", auth, b))
		if st := stateOf(t, first, ck); st != tenant.StateDisabled {
			err = errors.Join(err, fmt.Errorf("the replayed install set the state to %s", st))
		}
		return err
	case "uninstall after reinstall":
		ok(first.signedLifecycle("/installed", payload(ck, s1, "installed"), nil), "install")
		b, auth := first.signLifecycle("/uninstalled", payload(ck, "", "uninstalled"), nil)
		ok(first.do("POST", "/uninstalled", auth, b), "uninstall")
		ok(first.signedLifecycle("/installed", payload(ck, s2, "installed"), nil), "reinstall")
		err := refusedAsReplay(t, second.do("POST", "/uninstalled", auth, b))
		if st := stateOf(t, first, ck); st != tenant.StateInstalled {
			err = errors.Join(err, fmt.Errorf("the replayed uninstall set the state to %s", st))
		}
		return err
	case "uninstall redelivered":
		ok(first.signedLifecycle("/installed", payload(ck, s1, "installed"), nil), "install")
		b, auth := first.signLifecycle("/uninstalled", payload(ck, "", "uninstalled"), nil)
		ok(first.do("POST", "/uninstalled", auth, b), "uninstall")
		if r := second.do("POST", "/uninstalled", auth, b); r.StatusCode != 204 {
			return fmt.Errorf("a redelivered uninstall that changes nothing answered %d", r.StatusCode)
		}
		return nil
	case "disabled after enable":
		ok(first.signedLifecycle("/installed", payload(ck, s1, "installed"), nil), "install")
		a, body := hsLifecycle(ck, s1, "/disabled")
		ok(first.do("POST", "/disabled", a, body), "disable")
		ea, eb := hsLifecycle(ck, s1, "/enabled")
		ok(first.do("POST", "/enabled", ea, eb), "enable")
		err := refusedAsReplay(t, second.do("POST", "/disabled", a, body))
		if st := stateOf(t, first, ck); st != tenant.StateInstalled {
			err = errors.Join(err, fmt.Errorf("the replayed disable set the state to %s", st))
		}
		return err
	case "enabled after disable":
		ok(first.signedLifecycle("/installed", payload(ck, s1, "installed"), nil), "install")
		ea, eb := hsLifecycle(ck, s1, "/enabled")
		ok(first.do("POST", "/enabled", ea, eb), "enable")
		a, body := hsLifecycle(ck, s1, "/disabled")
		ok(first.do("POST", "/disabled", a, body), "disable")
		err := refusedAsReplay(t, second.do("POST", "/enabled", ea, eb))
		if st := stateOf(t, first, ck); st != tenant.StateDisabled {
			err = errors.Join(err, fmt.Errorf("the replayed enable set the state to %s", st))
		}
		return err
	case "enabled redelivered": // Jira retries when our answer was lost
		ok(first.signedLifecycle("/installed", payload(ck, s1, "installed"), nil), "install")
		ea, eb := hsLifecycle(ck, s1, "/enabled")
		ok(first.do("POST", "/enabled", ea, eb), "enable")
		if r := second.do("POST", "/enabled", ea, eb); r.StatusCode != 204 {
			return fmt.Errorf("a redelivered enable that changes nothing answered %d", r.StatusCode)
		}
		if st := stateOf(t, first, ck); st != tenant.StateInstalled {
			return fmt.Errorf("a redelivered enable left the state %s", st)
		}
		return nil
	}
	t.Fatalf("unknown kind %q", kind)
	return nil
}

func installAttacks() []installAttack {
	attacks := []installAttack{
		{"install token replayed with another body", "item 6: the same install token posted twice with another sharedSecret",
			func(t *testing.T, dsn string) error {
				h := newHarness(t, dsn)
				return replay(t, h, h, "/installed")
			}, false},
		{"install token replayed on another instance", "item 6: the replay sent to a second instance sharing the database",
			func(t *testing.T, dsn string) error {
				fake := newFakeAtlassian(t)
				a := newHarnessWith(t, dsn, fake, "https://app.example")
				b := newHarnessWith(t, dsn, fake, "https://app.example")
				return replay(t, a, b, "/installed")
			}, true},
		{"install token redelivered", "item 6 neighbour: the identical callback again is accepted (a redelivery), on /uninstalled refused",
			func(t *testing.T, dsn string) error {
				h := newHarness(t, dsn)
				b, auth := h.signLifecycle("/installed", payload("ck-twice", "twice-genuine-secret-0123456789abcdef", "installed"), nil)
				if r := h.do("POST", "/installed", auth, b); r.StatusCode != 204 {
					t.Fatalf("control: %d", r.StatusCode)
				}
				// The identical callback again is a harmless redelivery;
				// the same token on /uninstalled fails its qsh.
				if r := h.do("POST", "/installed", auth, b); r.StatusCode != 204 {
					return fmt.Errorf("the identical redelivery answered %d", r.StatusCode)
				}
				if r := h.do("POST", "/uninstalled", auth, mustJSON(payload("ck-twice", "", "uninstalled"))); r.StatusCode != 401 {
					return fmt.Errorf("the install token on /uninstalled answered %d", r.StatusCode)
				}
				if s := secretOf(t, h, "ck-twice"); s != "twice-genuine-secret-0123456789abcdef" {
					return errors.New("secret changed")
				}
				return nil
			}, false},
		{"unsigned install flood", "item 8: 200 POST /installed without a token must not add lifecycle rows",
			func(t *testing.T, dsn string) error {
				h := newHarness(t, dsn)
				before := lifecycleRows(t, h)
				for i := range 200 {
					r := h.do("POST", "/installed", "", mustJSON(payload(fmt.Sprintf("ck-flood-%d", i), "flood-secret-0123456789abcdef0123", "installed")))
					if r.StatusCode != 401 {
						t.Fatalf("unsigned install answered %d", r.StatusCode)
					}
				}
				var err error
				if after := lifecycleRows(t, h); after != before {
					err = fmt.Errorf("%d lifecycle rows added", after-before)
				}
				if n := strings.Count(h.logs.String(), "unauthenticated attempt refused"); n > 20 {
					err = errors.Join(err, fmt.Errorf("%d refusal log lines for 200 attempts (not sampled)", n))
				}
				return err
			}, false},
		{"forged install flood", "item 8: installs signed by an attacker's key, bad payloads and bad HS256 tokens add no rows",
			func(t *testing.T, dsn string) error {
				h := newHarness(t, dsn)
				before := lifecycleRows(t, h)
				for i := range 30 {
					ck := fmt.Sprintf("ck-forged-%d", i)
					tok := mintRS(attackerRSA(), map[string]any{"kid": h.fake.kid}, map[string]any{"iss": ck, "aud": []string{h.base}})
					h.do("POST", "/installed", "JWT "+tok, mustJSON(payload(ck, "forged-secret-0123456789abcdef0123", "installed")))
					p := payload(ck, "s", "installed")
					p["baseUrl"] = "https://evil.example"
					h.do("POST", "/installed", "", mustJSON(p))
					h.do("POST", "/enabled", "JWT "+mintHS(hsHeader, reqClaims(ck, "POST", "/enabled"), []byte("nope")), mustJSON(payload(ck, "", "enabled")))
				}
				if after := lifecycleRows(t, h); after != before {
					return fmt.Errorf("%d lifecycle rows added", after-before)
				}
				return nil
			}, false},
		{"install with an unknown kid does not store", "item 8: an unknown kid refusal is not stored either",
			func(t *testing.T, dsn string) error {
				h := newHarness(t, dsn)
				before := lifecycleRows(t, h)
				tok := mintRS(attackerRSA(), map[string]any{"kid": "unknown-kid-1"}, map[string]any{"iss": "ck-x", "aud": []string{h.base}})
				r := h.do("POST", "/installed", "JWT "+tok, mustJSON(payload("ck-x", "x-secret-0123456789abcdef0123456789", "installed")))
				if r.StatusCode != 401 {
					t.Fatalf("answered %d", r.StatusCode)
				}
				if after := lifecycleRows(t, h); after != before {
					return fmt.Errorf("%d lifecycle rows added", after-before)
				}
				return nil
			}, false},
		{"unknown kid flood", "item 7: 40 installs with random kids and 10 with one unknown kid must not make 50 key-server fetches",
			func(t *testing.T, dsn string) error {
				base := newFakeAtlassian(t)
				var fetches atomic.Int64
				counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					fetches.Add(1)
					resp, err := http.Get(base.keys.URL + r.URL.Path)
					if err != nil {
						w.WriteHeader(502)
						return
					}
					defer resp.Body.Close()
					w.WriteHeader(resp.StatusCode)
					io.Copy(w, resp.Body)
				}))
				t.Cleanup(counting.Close)
				h := newHarnessWith(t, dsn, &fakeAtlassian{keys: counting, kid: base.kid, key: base.key}, "")
				send := func(kid string) {
					tok := mintRS(attackerRSA(), map[string]any{"kid": kid}, map[string]any{"iss": "ck-kid", "aud": []string{h.base}})
					if r := h.do("POST", "/installed", "JWT "+tok, mustJSON(payload("ck-kid", "kid-secret-0123456789abcdef012345", "installed"))); r.StatusCode != 401 {
						t.Fatalf("answered %d", r.StatusCode)
					}
				}
				for i := range 40 {
					send(fmt.Sprintf("random-kid-%d", i))
				}
				random := fetches.Load()
				for range 10 {
					send("the-same-unknown-kid")
				}
				same := fetches.Load() - random
				var err error
				if random > 10 {
					err = fmt.Errorf("40 random kids from one source made %d fetches (want at most 10)", random)
				}
				if same > 1 {
					err = errors.Join(err, fmt.Errorf("10 installs with one unknown kid made %d fetches (want at most 1)", same))
				}
				// The genuine kid still works for Atlassian (another source
				// would not share this one's budget; here it is fetched once
				// and cached).
				return err
			}, false},
	}
	for _, kind := range []string{"install after reinstall", "install after disable", "uninstall after reinstall", "uninstall redelivered",
		"disabled after enable", "enabled after disable", "enabled redelivered"} {
		attacks = append(attacks,
			installAttack{"replayed " + kind, "item 6 neighbour: a lifecycle callback replayed unchanged (" + kind + ")",
				func(t *testing.T, dsn string) error {
					h := newHarness(t, dsn)
					return replayAfterChange(t, h, h, kind)
				}, false},
			installAttack{"replayed " + kind + " on another instance", "item 6 neighbour: the same, sent to a second instance sharing the database",
				func(t *testing.T, dsn string) error {
					fake := newFakeAtlassian(t)
					return replayAfterChange(t, newHarnessWith(t, dsn, fake, "https://app.example"), newHarnessWith(t, dsn, fake, "https://app.example"), kind)
				}, true})
	}
	return attacks
}

// TestInstallAttackMatrix runs the install matrix on SQLite and PostgreSQL
// and prints its counts.
func TestInstallAttackMatrix(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dsn := ""
			if db == "postgres" {
				dsn = storagetest.PostgresURL(t)
			}
			passed, failed := 0, 0
			for _, c := range installAttacks() {
				if c.shared && dsn == "" {
					continue
				}
				ok := t.Run(c.name, func(t *testing.T) {
					if err := c.run(t, dsn); err != nil {
						t.Errorf("attack: %s\n%v", c.attack, err)
					}
				})
				if ok {
					passed++
				} else {
					failed++
				}
			}
			summary := fmt.Sprintf("install attack matrix: %d passed, %d failed", passed, failed)
			fmt.Println(summary)
			t.Logf("%s (%s)", summary, db)
		})
	}
}
