package storage

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// TenantChannel is the PostgreSQL notification channel on which every
// tenant write announces the clientKey it changed, so that other instances
// sharing the database drop their cached copy.
const TenantChannel = "connect_doctor_tenants"

// Invalidator is what the listener drives: a tenant cache.
type Invalidator interface {
	Invalidate(clientKey string)
	Purge()
}

// ListenTenantChanges follows TenantChannel on PostgreSQL until ctx ends,
// invalidating changed tenants in cache. After a lost connection it
// reconnects with backoff and purges the whole cache (notifications sent
// while disconnected are lost). It returns when ctx is done.
func ListenTenantChanges(ctx context.Context, databaseURL string, cache Invalidator, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := listenOnce(ctx, databaseURL, cache, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		log.Warn("tenant change listener disconnected; cache purged", slog.String("error", err.Error()))
		cache.Purge()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// RateChannel is the PostgreSQL notification channel on which
// RateStore.Publish announces a new pause, so that other instances read
// it at once instead of at their next poll.
const RateChannel = "connect_doctor_rate_pauses"

// ListenRatePauses calls sync on every pause another instance publishes
// (RateChannel), and once after each (re)connection, until ctx ends.
// Polling (jira.Limiter.Run) stays the fallback while disconnected.
func ListenRatePauses(ctx context.Context, databaseURL string, sync func(), log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := listenChannel(ctx, databaseURL, RateChannel, func() { backoff = 100 * time.Millisecond; sync() }, func(string) { sync() })
		if ctx.Err() != nil {
			return
		}
		log.Warn("rate pause listener disconnected; polling continues", slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func listenChannel(ctx context.Context, databaseURL, channel string, connected func(), notified func(payload string)) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return err
	}
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		notified(n.Payload)
	}
}

func listenOnce(ctx context.Context, databaseURL string, cache Invalidator, connected func()) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+TenantChannel); err != nil {
		return err
	}
	// Anything cached before LISTEN took effect may be stale.
	cache.Purge()
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		cache.Invalidate(n.Payload)
	}
}
