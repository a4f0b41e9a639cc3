package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// UsedTokenRow is the used_tokens table (migration 00004).
type UsedTokenRow struct {
	TokenHash string `gorm:"primaryKey;size:64"`
	Kind      string `gorm:"size:32;not null"`
	BodyHash  string `gorm:"size:64;not null;default:''"`
	ExpiresAt time.Time
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
}

// TableName fixes the table name.
func (UsedTokenRow) TableName() string { return "used_tokens" }

// ErrTokenUsed: the token was already accepted once.
var ErrTokenUsed = errors.New("storage: the token was already used")

// TokenLedger remembers single-use tokens until they expire, in the
// database every instance shares (issue 16 item 6).
type TokenLedger struct {
	db  *DB
	now func() time.Time
}

// NewTokenLedger builds the ledger.
func NewTokenLedger(db *DB, now func() time.Time) *TokenLedger {
	if now == nil {
		now = time.Now
	}
	return &TokenLedger{db: db, now: now}
}

// Use records hash (a hex SHA-256 of the token) with the hash of the body
// it came with, until exp. It reports first = true when the token was not
// recorded before; the same token and body again (a redelivery) gives
// first = false, and the caller accepts it only when it changes nothing
// (a replayed old install must not restore an old secret). The token
// recorded before with another body is ErrTokenUsed. The insert is
// atomic, so of two instances racing with the same token exactly one sees
// first = true.
func (l *TokenLedger) Use(ctx context.Context, kind, hash, bodyHash string, exp time.Time) (first bool, err error) {
	if len(hash) != 64 || len(bodyHash) != 64 {
		return false, storeErr("use token", fmt.Errorf("token or body hash of %d/%d characters", len(hash), len(bodyHash)))
	}
	ok, err := l.insert(ctx, kind, hash, bodyHash, exp)
	if err != nil || ok {
		return ok, err
	}
	var prev UsedTokenRow
	if err := l.db.Gorm.WithContext(ctx).Select("token_hash, body_hash").Where("token_hash = ?", hash).Take(&prev).Error; err != nil {
		return false, storeErr("use token", err)
	}
	if prev.BodyHash != bodyHash {
		return false, ErrTokenUsed
	}
	return false, nil
}

// UseOnce records hash until exp and reports ErrTokenUsed when it was
// recorded before, whatever came with it: tokens that may be accepted
// once only (Forge event FITs by jti, the Connect enabled and disabled
// callbacks). Several instances sharing the database see one another's
// tokens; of two racing with one token exactly one succeeds.
func (l *TokenLedger) UseOnce(ctx context.Context, kind, hash string, exp time.Time) error {
	if len(hash) != 64 {
		return storeErr("use token once", fmt.Errorf("token hash of %d characters", len(hash)))
	}
	ok, err := l.insert(ctx, kind, hash, "", exp)
	if err != nil {
		return err
	}
	if !ok {
		return ErrTokenUsed
	}
	return nil
}

// insert adds the row unless the hash is there; it reports whether it did.
func (l *TokenLedger) insert(ctx context.Context, kind, hash, bodyHash string, exp time.Time) (bool, error) {
	row := UsedTokenRow{TokenHash: hash, Kind: kind, BodyHash: bodyHash, ExpiresAt: exp.UTC(), CreatedAt: l.now().UTC()}
	res := l.db.Gorm.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	if res.Error != nil {
		return false, storeErr("use token", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Release forgets a token whose request could not be completed (the store
// failed after the token was recorded), so Atlassian's retry of the same
// callback is not refused.
func (l *TokenLedger) Release(ctx context.Context, hash string) error {
	if err := l.db.Gorm.WithContext(ctx).Where("token_hash = ?", hash).Delete(&UsedTokenRow{}).Error; err != nil {
		return storeErr("release token", err)
	}
	return nil
}

// Prune deletes the tokens expired before cutoff (they are refused as
// expired anyway).
func (l *TokenLedger) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	res := l.db.Gorm.WithContext(ctx).Where("expires_at < ?", cutoff.UTC()).Delete(&UsedTokenRow{})
	if res.Error != nil {
		return 0, storeErr("prune used tokens", res.Error)
	}
	return res.RowsAffected, nil
}

// PruneLifecycleEvents deletes lifecycle log rows older than cutoff (the
// log's retention, issue 16 item 8).
func PruneLifecycleEvents(ctx context.Context, db *DB, cutoff time.Time) (int64, error) {
	res := db.Gorm.WithContext(ctx).Where("created_at < ?", cutoff.UTC()).Delete(&LifecycleEvent{})
	if res.Error != nil {
		return 0, storeErr("prune lifecycle log", res.Error)
	}
	return res.RowsAffected, nil
}
