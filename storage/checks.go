package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// CheckRow is one entry of the checks table: a check run from the admin
// panel. The summary columns serve the history list; Result is the JSON the
// panel shows when the check is reopened.
type CheckRow struct {
	ID         string `gorm:"primaryKey;size:32"`
	ClientKey  string `gorm:"size:255;not null"`
	AccountID  string `gorm:"size:128;not null;default:''"`
	Identity   string `gorm:"size:8;not null"` // app | user
	Method     string `gorm:"size:8;not null"`
	Path       string `gorm:"size:2048;not null"`
	Status     int    `gorm:"not null;default:0"` // 0: no answer (exchange or network failure)
	DurationMs int64  `gorm:"not null;default:0"`
	Outcome    string `gorm:"size:32;not null;default:''"` // preflight outcome
	Cause      string `gorm:"size:64;not null;default:''"` // leading diagnosis cause code
	Summary    string `gorm:"size:512;not null;default:''"`
	Result     string `gorm:"not null"`
	CreatedAt  time.Time
}

// TableName fixes the table name.
func (CheckRow) TableName() string { return "checks" }

// Check history errors.
var (
	// ErrCheckNotFound: no check with that id for that tenant.
	ErrCheckNotFound = errors.New("storage: no such check")
	// ErrBadCursor: a pagination cursor that this store did not issue.
	ErrBadCursor = errors.New("storage: invalid history cursor")
)

// DefaultCheckHistoryLimit is used when NewCheckStore gets a limit < 1.
const DefaultCheckHistoryLimit = 500

// MaxCheckPage is the largest page List returns.
const MaxCheckPage = 100

// CheckStore keeps each tenant's check history, newest first, bounded to
// the newest Limit rows per tenant. Database failures wrap connect.ErrStore.
type CheckStore struct {
	db    *gorm.DB
	now   func() time.Time
	limit int
}

// NewCheckStore builds the store; limit is the per-tenant retention
// (CHECK_HISTORY_LIMIT).
func NewCheckStore(db *DB, limit int, now func() time.Time) *CheckStore {
	if now == nil {
		now = time.Now
	}
	if limit < 1 {
		limit = DefaultCheckHistoryLimit
	}
	return &CheckStore{db: db.Gorm, now: now, limit: limit}
}

// Limit returns the per-tenant retention.
func (s *CheckStore) Limit() int { return s.limit }

// Add stores a check, assigning its ID and CreatedAt when empty, and drops
// the tenant's rows beyond the retention limit, in one transaction.
func (s *CheckStore) Add(ctx context.Context, row *CheckRow) error {
	if row.ClientKey == "" {
		return fmt.Errorf("storage: check without clientKey")
	}
	now := s.now()
	if row.ID == "" {
		row.ID = NewID(now)
	}
	if row.CreatedAt.IsZero() {
		row.CreatedAt = now.UTC()
	}
	row.AccountID = clip(row.AccountID, 128)
	row.Path = clip(row.Path, 2048)
	row.Summary = clip(row.Summary, 512)
	row.Outcome = clip(row.Outcome, 32)
	row.Cause = clip(row.Cause, 64)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(row).Error; err != nil {
			return err
		}
		return s.prune(tx, row.ClientKey)
	})
	if err != nil {
		return storeErr("add check", err)
	}
	return nil
}

// prune deletes a tenant's rows older than its limit-th newest.
func (s *CheckStore) prune(tx *gorm.DB, clientKey string) error {
	var cutoff []string
	if err := tx.Model(&CheckRow{}).Where("client_key = ?", clientKey).Order("id DESC").
		Offset(s.limit-1).Limit(1).Pluck("id", &cutoff).Error; err != nil {
		return err
	}
	if len(cutoff) == 0 {
		return nil
	}
	return tx.Where("client_key = ? AND id < ?", clientKey, cutoff[0]).Delete(&CheckRow{}).Error
}

// List returns up to limit of a tenant's checks, newest first, starting
// after cursor ("" for the first page), without their Result. next is the
// cursor of the following page, "" on the last one.
func (s *CheckStore) List(ctx context.Context, clientKey string, limit int, cursor string) (rows []CheckRow, next string, err error) {
	if limit < 1 || limit > MaxCheckPage {
		limit = MaxCheckPage
	}
	q := s.db.WithContext(ctx).Model(&CheckRow{}).
		Select("id, client_key, account_id, identity, method, path, status, duration_ms, outcome, cause, summary, created_at").
		Where("client_key = ?", clientKey)
	if cursor != "" {
		if !ValidID(cursor) {
			return nil, "", ErrBadCursor
		}
		q = q.Where("id < ?", cursor)
	}
	if err := q.Order("id DESC").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, "", storeErr("list checks", err)
	}
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	return rows, next, nil
}

// Get returns one of a tenant's checks with its Result. Another tenant's
// id is reported as ErrCheckNotFound.
func (s *CheckStore) Get(ctx context.Context, clientKey, id string) (*CheckRow, error) {
	if !ValidID(id) {
		return nil, ErrCheckNotFound
	}
	var row CheckRow
	err := s.db.WithContext(ctx).Where("client_key = ? AND id = ?", clientKey, id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrCheckNotFound
	}
	if err != nil {
		return nil, storeErr("get check", err)
	}
	return &row, nil
}

// Count returns how many checks a tenant has.
func (s *CheckStore) Count(ctx context.Context, clientKey string) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&CheckRow{}).Where("client_key = ?", clientKey).Count(&n).Error; err != nil {
		return 0, storeErr("count checks", err)
	}
	return n, nil
}

// ValidID reports whether id has the shape NewID produces (32 lower-case
// hex digits).
func ValidID(id string) bool {
	if len(id) != 32 {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool { return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') }) < 0
}

// clip shortens s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Back up to the start of the rune that the cut would split.
	for i := 0; i < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(s[n]); i++ {
		n--
	}
	return s[:n]
}

// Rewrite passes every stored check, oldest first in batches, through fn
// and saves the rows fn reports changed (result, path, summary). It
// returns how many rows changed. fn must be idempotent: Rewrite runs at
// every start to bring rows written by older versions to the current
// storage rules.
func (s *CheckStore) Rewrite(ctx context.Context, fn func(*CheckRow) bool) (int, error) {
	changed, last := 0, ""
	for {
		var rows []CheckRow
		if err := s.db.WithContext(ctx).Where("id > ?", last).Order("id").Limit(200).Find(&rows).Error; err != nil {
			return changed, storeErr("rewrite checks", err)
		}
		if len(rows) == 0 {
			return changed, nil
		}
		for i := range rows {
			r := &rows[i]
			last = r.ID
			if !fn(r) {
				continue
			}
			r.Path, r.Summary = clip(r.Path, 2048), clip(r.Summary, 512)
			err := s.db.WithContext(ctx).Model(&CheckRow{}).Where("id = ?", r.ID).
				Updates(map[string]any{"result": r.Result, "path": r.Path, "summary": r.Summary}).Error
			if err != nil {
				return changed, storeErr("rewrite check", err)
			}
			changed++
		}
	}
}
