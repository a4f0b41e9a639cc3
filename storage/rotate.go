package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ReencryptStats reports a key rotation pass.
type ReencryptStats struct {
	Checked     int      // rows examined
	Reencrypted int      // rows moved to the current key
	Current     int      // rows already under the current key
	Skipped     int      // rows changed concurrently (already rewritten)
	Failed      []string // clientKeys whose secret no configured key opens
}

// ErrUndecryptable reports rows that no configured key can open.
var ErrUndecryptable = errors.New("some secrets cannot be decrypted with the configured keys")

// Reencrypt moves every stored secret to the sealer's current key. It is
// safe to interrupt and to rerun: each row is rewritten on its own, only if
// it still holds the ciphertext that was read (a concurrent reinstall wins),
// and running instances configured with both keys read either form during
// the rotation.
func (s *TenantStore) Reencrypt(ctx context.Context) (ReencryptStats, error) {
	var st ReencryptStats
	prefix := "v1." + s.sealer.CurrentKeyID() + "."
	var rows []struct {
		ClientKey       string
		SharedSecretEnc string
	}
	if err := s.db.WithContext(ctx).Model(&TenantRow{}).Select("client_key, shared_secret_enc").Order("client_key").Scan(&rows).Error; err != nil {
		return st, storeErr("list secrets", err)
	}
	for _, r := range rows {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		st.Checked++
		if strings.HasPrefix(r.SharedSecretEnc, prefix) {
			st.Current++
			continue
		}
		plain, err := s.sealer.Open(r.SharedSecretEnc, r.ClientKey)
		if err != nil {
			st.Failed = append(st.Failed, r.ClientKey)
			continue
		}
		sealed, err := s.sealer.Seal(plain, r.ClientKey)
		if err != nil {
			return st, err
		}
		res := s.db.WithContext(ctx).Model(&TenantRow{}).
			Where("client_key = ? AND shared_secret_enc = ?", r.ClientKey, r.SharedSecretEnc).
			Update("shared_secret_enc", sealed)
		if res.Error != nil {
			return st, storeErr("rewrite secret", res.Error)
		}
		if res.RowsAffected == 0 {
			st.Skipped++
			continue
		}
		st.Reencrypted++
	}
	if len(st.Failed) > 0 {
		return st, fmt.Errorf("%w: %d tenant(s), e.g. %s", ErrUndecryptable, len(st.Failed), st.Failed[0])
	}
	return st, nil
}
