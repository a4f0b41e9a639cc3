package tiers

import "testing"

// TestTable: the embedded table parses and gives the documented examples.
func TestTable(t *testing.T) {
	for _, tc := range []struct {
		e     Edition
		users int
		want  int64
	}{{Free, 10, 65000}, {Standard, 2000, 120000}, {Enterprise, 15000, 500000}, {Premium, 0, 130000}, {"unknown", 5, 65000}} {
		if got := Quota(tc.e, tc.users); got != tc.want {
			t.Errorf("Quota(%s, %d) = %d, want %d", tc.e, tc.users, got, tc.want)
		}
	}
	if len(table()) != 4 {
		t.Errorf("table has %d editions, want 4", len(table()))
	}
}
