// Package tiers holds Atlassian's Tier 2 quota table (tier2.tsv, with its
// source): the hourly points quota of a tenant by edition and user count.
// It is a leaf: the client (jira) and the simulator (sim/ratesim) read the
// same table.
package tiers

import (
	"bufio"
	"bytes"
	_ "embed"
	"strconv"
	"strings"
	"sync"
)

// Edition is a Jira Cloud plan.
type Edition string

// The editions of the table.
const (
	Free       Edition = "free"
	Standard   Edition = "standard"
	Premium    Edition = "premium"
	Enterprise Edition = "enterprise"
)

type row struct{ base, perUser, cap int64 }

//go:embed tier2.tsv
var tsv []byte

var table = sync.OnceValue(func() map[Edition]row {
	out := map[Edition]row{}
	sc := bufio.NewScanner(bytes.NewReader(tsv))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			panic("tiers: bad line in tier2.tsv: " + line)
		}
		var n [3]int64
		for i := range n {
			v, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil || v < 0 {
				panic("tiers: bad number in tier2.tsv: " + line)
			}
			n[i] = v
		}
		out[Edition(f[0])] = row{n[0], n[1], n[2]}
	}
	if _, ok := out[Free]; !ok {
		panic("tiers: tier2.tsv has no free row")
	}
	return out
})

// Parse reads an edition name (any case); unknown names are Free, the
// smallest quota.
func Parse(s string) Edition {
	e := Edition(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := table()[e]; ok {
		return e
	}
	return Free
}

// Quota is the hourly Tier 2 quota of a tenant on edition e with users
// users: Free 65,000; Standard 100,000 + 10 per user; Premium 130,000 +
// 20 per user; Enterprise 150,000 + 30 per user; paid editions capped at
// 500,000. Unknown editions get Free's.
func Quota(e Edition, users int) int64 {
	r, ok := table()[e]
	if !ok {
		r = table()[Free]
	}
	q := r.base + r.perUser*int64(max(users, 0))
	if r.cap > 0 {
		q = min(q, r.cap)
	}
	return q
}
