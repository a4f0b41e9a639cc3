package storage

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/connect-doctor/connect-doctor/jira"
)

// RateStore keeps the rate-limit state every instance shares: it is the
// jira.BudgetStore (points leased per tenant and window, split by
// jira.FairGrant) and the jira.PauseStore (pauses from 429s, polled by
// sequence number). Each Lease is one short transaction that locks the
// window's row, so leases from all instances are serialised and the pool
// is never over-granted.
type RateStore struct {
	db      *gorm.DB
	dialect Dialect
	now     func() time.Time
}

var (
	_ jira.BudgetStore = (*RateStore)(nil)
	_ jira.PauseStore  = (*RateStore)(nil)
)

// NewRateStore builds the store on a migrated database; now (nil:
// time.Now) decides which pauses have ended.
func NewRateStore(db *DB, now func() time.Time) *RateStore {
	if now == nil {
		now = time.Now
	}
	return &RateStore{db: db.Gorm, dialect: db.Dialect, now: now}
}

func rateErr(op string, err error) error {
	return fmt.Errorf("%w: rate store: %s: %w", jira.ErrLedger, op, err)
}

// Lease implements jira.BudgetStore. The fair share is computed from a
// snapshot read without locks; the grant is then applied by one
// conditional UPDATE that never lets the pool's spend pass its size (and a
// retry on a fresh snapshot when another instance got there first), so
// the window's row is locked only for the two writes.
func (s *RateStore) Lease(ctx context.Context, r jira.LeaseRequest) (int64, error) {
	for attempt := 0; ; attempt++ {
		g, ok, err := s.tryLease(ctx, r)
		if err != nil {
			return 0, rateErr("lease", err)
		}
		if ok {
			return g, nil
		}
		if attempt >= 3 {
			return 0, nil // not applied: grant nothing rather than unrecorded points
		}
	}
}

func (s *RateStore) tryLease(ctx context.Context, r jira.LeaseRequest) (int64, bool, error) {
	if r.TenantQuota > 0 {
		return s.tryLeaseTier2(ctx, r)
	}
	ws := r.Window.UnixMilli()
	prev := r.Window.Add(-r.Length).UnixMilli()
	db := s.db.WithContext(ctx)
	var w []struct{ Budget, Quota, Spent int64 }
	if err := db.Raw("SELECT budget, quota, spent FROM rate_windows WHERE window_start = ?", ws).Scan(&w).Error; err != nil {
		return 0, false, err
	}
	if len(w) == 0 {
		if err := db.Exec("INSERT INTO rate_windows (window_start, budget) VALUES (?, ?) ON CONFLICT (window_start) DO NOTHING", ws, r.Budget).Error; err != nil {
			return 0, false, err
		}
		return 0, false, nil // read again
	}
	var rows []struct {
		WindowStart int64
		ClientKey   string
		Spent       int64
	}
	if err := db.Raw("SELECT window_start, client_key, spent FROM rate_spend WHERE window_start IN (?, ?)", ws, prev).Scan(&rows).Error; err != nil {
		return 0, false, err
	}
	me := jira.TenantUse{Tenant: r.Tenant}
	idx := map[string]int{}
	var others []jira.TenantUse
	for _, row := range rows {
		u := &me
		if row.ClientKey != r.Tenant {
			i, ok := idx[row.ClientKey]
			if !ok {
				i = len(others)
				idx[row.ClientKey] = i
				others = append(others, jira.TenantUse{Tenant: row.ClientKey})
			}
			u = &others[i]
		}
		if row.WindowStart == ws {
			u.Spent = row.Spent
		} else {
			u.PrevSpent = row.Spent
		}
	}
	budget := w[0].Budget
	if w[0].Quota > 0 {
		budget = w[0].Quota
	}
	// Several instances may lease on the same snapshot: the UPDATEs below
	// apply a grant only while the pool's spend stays within the ceiling
	// (the pool less the others' reserve when borrowing), so concurrent
	// borrowers cannot eat into the quiet tenants' reserve; a loser reads
	// again.
	g, ceiling := jira.FairGrantCeiling(r.Policy, budget, w[0].Spent, me, others, r.Want, r.Now.Sub(r.Window), r.Length)
	if g == 0 && me.Spent > 0 {
		return 0, true, nil
	}
	if s.dialect == Postgres && g > 0 {
		// One statement, one round trip: the window's row is locked only
		// while it runs.
		res := db.Exec(`WITH w AS (UPDATE rate_windows SET spent = spent + ? WHERE window_start = ?
				AND spent + ? <= CASE WHEN quota > 0 THEN quota ELSE budget END AND spent + ? <= ? RETURNING 1)
			INSERT INTO rate_spend (window_start, client_key, spent) SELECT ?, ?, ? FROM w
			ON CONFLICT (window_start, client_key) DO UPDATE SET spent = rate_spend.spent + excluded.spent`,
			g, ws, g, g, ceiling, ws, r.Tenant, g)
		if res.Error != nil {
			return 0, false, res.Error
		}
		return g, res.RowsAffected > 0, nil
	}
	applied := false
	err := db.Transaction(func(tx *gorm.DB) error {
		if g > 0 {
			res := tx.Exec(`UPDATE rate_windows SET spent = spent + ? WHERE window_start = ?
				AND spent + ? <= CASE WHEN quota > 0 THEN quota ELSE budget END AND spent + ? <= ?`, g, ws, g, g, ceiling)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				return nil // the pool moved: read again
			}
		}
		applied = true
		// A zero grant still records the tenant as active.
		return tx.Exec(`INSERT INTO rate_spend (window_start, client_key, spent) VALUES (?, ?, ?)
			ON CONFLICT (window_start, client_key) DO UPDATE SET spent = rate_spend.spent + excluded.spent`, ws, r.Tenant, g).Error
	})
	if err != nil || !applied {
		return 0, false, err
	}
	return g, true, nil
}

// tryLeaseTier2 grants from the tenant's own quota (Tier 2): one
// conditional UPDATE of its row that never passes the quota.
func (s *RateStore) tryLeaseTier2(ctx context.Context, r jira.LeaseRequest) (int64, bool, error) {
	ws := r.Window.UnixMilli()
	db := s.db.WithContext(ctx)
	if err := db.Exec(`INSERT INTO rate_spend (window_start, client_key, spent) VALUES (?, ?, 0)
		ON CONFLICT (window_start, client_key) DO NOTHING`, ws, r.Tenant).Error; err != nil {
		return 0, false, err
	}
	var spent int64
	if err := db.Raw("SELECT spent FROM rate_spend WHERE window_start = ? AND client_key = ?", ws, r.Tenant).Scan(&spent).Error; err != nil {
		return 0, false, err
	}
	g := jira.Tier2Grant(r.TenantQuota, spent, r.Want)
	if g == 0 {
		return 0, true, nil
	}
	res := db.Exec(`UPDATE rate_spend SET spent = spent + ? WHERE window_start = ? AND client_key = ? AND spent + ? <= ?`,
		g, ws, r.Tenant, g, r.TenantQuota)
	if res.Error != nil {
		return 0, false, res.Error
	}
	return g, res.RowsAffected > 0, nil
}

// Return implements jira.BudgetStore: points leased and not used go back
// to the tenant's row and the pool (never below zero).
func (s *RateStore) Return(ctx context.Context, window time.Time, tenant string, points int64) error {
	if points <= 0 {
		return nil
	}
	ws := window.UnixMilli()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var spent []int64
		if err := tx.Raw("SELECT spent FROM rate_spend WHERE window_start = ? AND client_key = ?", ws, tenant).Scan(&spent).Error; err != nil {
			return err
		}
		if len(spent) == 0 {
			return nil
		}
		n := min(points, spent[0])
		if err := tx.Exec(`UPDATE rate_spend SET spent = CASE WHEN spent < ? THEN 0 ELSE spent - ? END
			WHERE window_start = ? AND client_key = ?`, n, n, ws, tenant).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE rate_windows SET spent = CASE WHEN spent < ? THEN 0 ELSE spent - ? END WHERE window_start = ?`, n, n, ws).Error
	})
	if err != nil {
		return rateErr("return lease", err)
	}
	return nil
}

// Observe implements jira.BudgetStore: Jira's quota replaces the
// configured pool, and its count of spent points raises the ledger's when
// higher (never lowers it: leased points Jira has not seen yet would be
// granted twice).
func (s *RateStore) Observe(ctx context.Context, window time.Time, quota, remaining int64) error {
	err := s.db.WithContext(ctx).Exec(`INSERT INTO rate_windows (window_start, budget, quota, spent) VALUES (?, ?, ?, ?)
		ON CONFLICT (window_start) DO UPDATE SET quota = excluded.quota,
		spent = CASE WHEN rate_windows.spent < excluded.spent THEN excluded.spent ELSE rate_windows.spent END`,
		window.UnixMilli(), quota, quota, max(quota-remaining, 0)).Error
	if err != nil {
		return rateErr("observe", err)
	}
	return nil
}

// Spent returns the pool's spend in the window and each tenant's.
func (s *RateStore) Spent(ctx context.Context, window time.Time) (int64, map[string]int64, error) {
	var pool int64
	db := s.db.WithContext(ctx)
	if err := db.Raw("SELECT COALESCE(MAX(spent), 0) FROM rate_windows WHERE window_start = ?", window.UnixMilli()).Scan(&pool).Error; err != nil {
		return 0, nil, rateErr("spent", err)
	}
	var rows []struct {
		ClientKey string
		Spent     int64
	}
	if err := db.Raw("SELECT client_key, spent FROM rate_spend WHERE window_start = ?", window.UnixMilli()).Scan(&rows).Error; err != nil {
		return 0, nil, rateErr("spent", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.ClientKey] = r.Spent
	}
	return pool, out, nil
}

// Publish implements jira.PauseStore: the pause is stored under its scope
// (keeping the later end) with the next sequence number.
func (s *RateStore) Publish(ctx context.Context, p jira.Pause) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var seq int64
		if err := tx.Raw("UPDATE rate_seq SET n = n + 1 WHERE id = 1 RETURNING n").Scan(&seq).Error; err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO rate_pauses (scope_key, scope, client_key, method, endpoint, issue, reason, until_ms, seq)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (scope_key) DO UPDATE SET reason = excluded.reason, until_ms = excluded.until_ms, seq = excluded.seq
			WHERE rate_pauses.until_ms < excluded.until_ms`,
			p.Key(), int(p.Scope), p.Tenant, p.Method, p.Endpoint, p.Issue, p.Reason, p.Until.UnixMilli(), seq).Error; err != nil {
			return err
		}
		if s.dialect == Postgres {
			// Delivered at commit to every listening instance
			// (ListenRatePauses); the payload is only a hint.
			return tx.Exec("SELECT pg_notify(?, ?)", RateChannel, strconv.FormatInt(seq, 10)).Error
		}
		return nil
	})
	if err != nil {
		return rateErr("publish pause", err)
	}
	return nil
}

// Since implements jira.PauseStore: pauses written after cursor that have
// not ended, and the new cursor. Ended pauses are deleted now and then.
func (s *RateStore) Since(ctx context.Context, cursor int64) ([]jira.Pause, int64, error) {
	var rows []struct {
		Scope                                      int
		ClientKey, Method, Endpoint, Issue, Reason string
		UntilMs, Seq                               int64
	}
	db := s.db.WithContext(ctx)
	if err := db.Raw("SELECT scope, client_key, method, endpoint, issue, reason, until_ms, seq FROM rate_pauses WHERE seq > ? ORDER BY seq", cursor).Scan(&rows).Error; err != nil {
		return nil, cursor, rateErr("poll pauses", err)
	}
	now := s.now().UnixMilli()
	var out []jira.Pause
	for _, r := range rows {
		cursor = max(cursor, r.Seq)
		if r.UntilMs <= now {
			continue
		}
		out = append(out, jira.Pause{Scope: jira.ScopeKind(r.Scope), Tenant: r.ClientKey, Method: r.Method,
			Endpoint: r.Endpoint, Issue: r.Issue, Reason: r.Reason, Until: time.UnixMilli(r.UntilMs)})
	}
	if len(rows) > 0 && rows[0].Seq%64 == 0 {
		db.Exec("DELETE FROM rate_pauses WHERE until_ms < ?", now-int64(time.Hour/time.Millisecond))
	}
	return out, cursor, nil
}
