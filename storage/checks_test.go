package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/storage/storagetest"
)

// stepClock advances by a millisecond on every reading, so ids (which sort
// by time) are strictly increasing in insertion order.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func newCheckStore(db *storage.DB, limit int) *storage.CheckStore {
	clk := &stepClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	return storage.NewCheckStore(db, limit, clk.Now)
}

func check(clientKey string, i int) *storage.CheckRow {
	return &storage.CheckRow{
		ClientKey: clientKey, AccountID: "acc-1", Identity: "app", Method: "GET",
		Path: fmt.Sprintf("/rest/api/3/issue/DOC-%d", i), Status: 200 + i%2*203, DurationMs: int64(i),
		Outcome: "allowed", Cause: "", Summary: fmt.Sprintf("check %d", i), Result: fmt.Sprintf(`{"n":%d}`, i),
	}
}

func TestCheckModelMatchesMigration(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		m := db.Gorm.Migrator()
		model := &storage.CheckRow{}
		stmt := db.Gorm.Model(model).Statement
		if err := stmt.Parse(model); err != nil {
			t.Fatal(err)
		}
		if !m.HasTable(model) {
			t.Fatalf("table %s missing", stmt.Schema.Table)
		}
		for _, f := range stmt.Schema.Fields {
			if f.DBName != "" && !m.HasColumn(model, f.DBName) {
				t.Errorf("%s.%s: model field has no column in the migrations", stmt.Schema.Table, f.DBName)
			}
		}
		cols, err := m.ColumnTypes(model)
		if err != nil {
			t.Fatal(err)
		}
		if len(cols) != 13 {
			t.Errorf("checks has %d columns, want 13", len(cols))
		}
		for _, c := range cols {
			if stmt.Schema.LookUpField(c.Name()) == nil {
				t.Errorf("%s.%s: column has no model field", stmt.Schema.Table, c.Name())
			}
		}
		if !m.HasIndex(model, "checks_client_key_id") {
			t.Error("index checks_client_key_id missing")
		}
	})
}

func TestCheckHistoryPagination(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s := newCheckStore(db, 100)
		for i := range 7 {
			if err := s.Add(ctx, check("ck-a", i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Add(ctx, check("ck-b", 99)); err != nil {
			t.Fatal(err)
		}
		var got []string
		cursor, pages := "", 0
		for {
			rows, next, err := s.List(ctx, "ck-a", 3, cursor)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, r := range rows {
				if r.ClientKey != "ck-a" {
					t.Fatalf("another tenant's row: %+v", r)
				}
				if r.Result != "" {
					t.Fatalf("List returned the result column: %q", r.Result)
				}
				got = append(got, r.Summary)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		want := []string{"check 6", "check 5", "check 4", "check 3", "check 2", "check 1", "check 0"}
		if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
			t.Fatalf("pages=%d order %v, want %v", pages, got, want)
		}
		// An exact multiple of the page size ends without an empty page.
		rows, next, err := s.List(ctx, "ck-b", 1, "")
		if err != nil || len(rows) != 1 || next != "" {
			t.Fatalf("single row page: %d rows next=%q err=%v", len(rows), next, err)
		}
		if _, _, err := s.List(ctx, "ck-a", 3, "not-a-cursor"); !errors.Is(err, storage.ErrBadCursor) {
			t.Fatalf("bad cursor: %v", err)
		}
		if rows, _, _ := s.List(ctx, "ck-a", 0, ""); len(rows) != 7 {
			t.Fatalf("limit 0 means the maximum page: %d rows", len(rows))
		}
	})
}

func TestCheckGetIsPerTenant(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s := newCheckStore(db, 10)
		c := check("ck-a", 1)
		if err := s.Add(ctx, c); err != nil {
			t.Fatal(err)
		}
		if !storage.ValidID(c.ID) || c.CreatedAt.IsZero() {
			t.Fatalf("id/created not assigned: %+v", c)
		}
		got, err := s.Get(ctx, "ck-a", c.ID)
		if err != nil || got.Result != `{"n":1}` || got.Status != 403 || got.Path != "/rest/api/3/issue/DOC-1" {
			t.Fatalf("get: %+v %v", got, err)
		}
		for name, id := range map[string]string{"other tenant": c.ID, "malformed": "x' OR 1=1 --", "unknown": "0000000000000000000000000000000f"} {
			tenant := "ck-b"
			if name != "other tenant" {
				tenant = "ck-a"
			}
			if _, err := s.Get(ctx, tenant, id); !errors.Is(err, storage.ErrCheckNotFound) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

func TestCheckRetentionIsBoundedPerTenant(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s := newCheckStore(db, 5)
		for i := range 12 {
			if err := s.Add(ctx, check("ck-a", i)); err != nil {
				t.Fatal(err)
			}
			if i < 3 {
				if err := s.Add(ctx, check("ck-b", i)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n, _ := s.Count(ctx, "ck-a"); n != 5 {
			t.Fatalf("ck-a keeps %d rows, want 5", n)
		}
		if n, _ := s.Count(ctx, "ck-b"); n != 3 {
			t.Fatalf("ck-b keeps %d rows, want 3 (other tenants are not pruned)", n)
		}
		rows, _, _ := s.List(ctx, "ck-a", 10, "")
		if len(rows) != 5 || rows[0].Summary != "check 11" || rows[4].Summary != "check 7" {
			t.Fatalf("kept the wrong rows: %v", rows)
		}
		if s.Limit() != 5 || storage.NewCheckStore(db, 0, nil).Limit() != storage.DefaultCheckHistoryLimit {
			t.Fatal("limit not applied")
		}
	})
}

func TestCheckAddClipsLongFields(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s := newCheckStore(db, 5)
		c := check("ck-a", 1)
		long := make([]byte, 0, 3000)
		for len(long) < 3000 {
			long = append(long, "é"...)
		}
		c.Path = "/rest/" + string(long)
		c.Summary = string(long)
		if err := s.Add(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "ck-a", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Path) > 2048 || len(got.Summary) > 512 || got.Summary[len(got.Summary)-2:] != "é" {
			t.Fatalf("not clipped on a rune boundary: %d %d", len(got.Path), len(got.Summary))
		}
		if err := s.Add(ctx, &storage.CheckRow{Identity: "app", Method: "GET", Path: "/rest/x", Result: "{}"}); err == nil {
			t.Fatal("a check without clientKey was stored")
		}
	})
}
