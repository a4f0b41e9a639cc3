package oauth

import (
	"fmt"
	"strings"

	"github.com/connect-doctor/connect-doctor/scope"
)

// requestable lists the scopes a user token may be narrowed to, in the
// order they are sent; bit i of a scope mask stands for requestable[i].
var requestable = [...]scope.Scope{
	scope.Read, scope.Write, scope.Delete, scope.ProjectAdmin, scope.SpaceAdmin,
	scope.Admin, scope.ActAsUser, scope.AccessEmailAddresses,
}

type scopeBits uint16

// scopeStrings[m] is the "scope" form value for mask m (upper case,
// space-separated); scopeSets[m] the matching normalised set. Both are
// immutable lookup tables built once, so normalising a scope set for a
// cache lookup allocates nothing.
var scopeStrings, scopeSets = buildScopeTables()

func buildScopeTables() (strs [1 << len(requestable)]string, sets [1 << len(requestable)]scope.Set) {
	for m := range strs {
		var names []string
		var set scope.Set
		for i, s := range requestable {
			if m&(1<<i) != 0 {
				names = append(names, string(s))
				set = append(set, s)
			}
		}
		strs[m] = strings.Join(names, " ")
		sets[m] = set
	}
	return strs, sets
}

// scopeMask normalises a scope set (order and duplicates ignored, NONE
// dropped) without allocating.
func scopeMask(set scope.Set) (scopeBits, error) {
	var m scopeBits
next:
	for _, s := range set {
		if s == scope.None || s == "" {
			continue
		}
		for i, r := range requestable {
			if s == r {
				m |= 1 << i
				continue next
			}
		}
		if p, err := scope.Parse(string(s)); err == nil && p != scope.Inaccessible && p != s {
			// Lower-case or hyphenated spelling of a real scope.
			for i, r := range requestable {
				if p == r {
					m |= 1 << i
					continue next
				}
			}
		}
		return 0, fmt.Errorf("%w: %q", ErrScope, string(s))
	}
	return m, nil
}

// NormalizeScopes returns the "scope" form value for a set: upper case,
// de-duplicated, in hierarchy order, space-separated; "" for an empty set
// (no narrowing).
func NormalizeScopes(set scope.Set) (string, error) {
	m, err := scopeMask(set)
	if err != nil {
		return "", err
	}
	return scopeStrings[m], nil
}
