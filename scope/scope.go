// Package scope models Atlassian Connect scopes: parsing them in either case,
// the hierarchy ADMIN ⊃ PROJECT_ADMIN ⊃ DELETE ⊃ WRITE ⊃ READ ⊃ NONE (with
// SPACE_ADMIN for Confluence, and ACT_AS_USER and ACCESS_EMAIL_ADDRESSES on
// separate axes), and whether a set of declared scopes allows an operation
// that needs a given scope.
package scope

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Scope is a Connect scope name in upper case, e.g. "READ".
type Scope string

// The Connect scopes. Inaccessible is not a scope an app can declare: it is
// the catalog's marker for operations Connect apps can never call.
const (
	None                 Scope = "NONE"
	Read                 Scope = "READ"
	Write                Scope = "WRITE"
	Delete               Scope = "DELETE"
	ProjectAdmin         Scope = "PROJECT_ADMIN"
	SpaceAdmin           Scope = "SPACE_ADMIN"
	Admin                Scope = "ADMIN"
	ActAsUser            Scope = "ACT_AS_USER"
	AccessEmailAddresses Scope = "ACCESS_EMAIL_ADDRESSES"
	Inaccessible         Scope = "INACCESSIBLE"
)

// ErrUnknown is returned for a scope name that is not a Connect scope.
var ErrUnknown = errors.New("unknown Connect scope")

// rank orders the hierarchical scopes; a scope implies every scope of lower
// rank, except that SPACE_ADMIN does not imply PROJECT_ADMIN.
var rank = map[Scope]int{None: 0, Read: 1, Write: 2, Delete: 3, ProjectAdmin: 4, SpaceAdmin: 4, Admin: 5}

// Declarable lists the scopes an app may declare in its descriptor, in
// hierarchy order followed by the separate axes.
var Declarable = []Scope{Read, Write, Delete, ProjectAdmin, SpaceAdmin, Admin, ActAsUser, AccessEmailAddresses}

// Parse reads one scope name, all upper or all lower case (mixed case is
// accepted too; Jira compares case-insensitively). Hyphens are accepted for
// underscores. NONE and INACCESSIBLE parse but are not declarable.
func Parse(s string) (Scope, error) {
	u := Scope(strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_")))
	switch u {
	case None, Read, Write, Delete, ProjectAdmin, SpaceAdmin, Admin, ActAsUser, AccessEmailAddresses, Inaccessible:
		return u, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnknown, s)
}

// Declarable reports whether an app may declare s in its descriptor.
func (s Scope) Declarable() bool { return slices.Contains(Declarable, s) }

// Hierarchical reports whether s sits on the READ…ADMIN chain.
func (s Scope) Hierarchical() bool { _, ok := rank[s]; return ok }

// Implies reports whether holding s grants required.
func (s Scope) Implies(required Scope) bool {
	if s == required || required == None {
		return true
	}
	rs, ok1 := rank[s]
	rr, ok2 := rank[required]
	if !ok1 || !ok2 {
		return false
	}
	if s == SpaceAdmin && required == ProjectAdmin {
		return false
	}
	if s == ProjectAdmin && required == SpaceAdmin {
		return false
	}
	return rs > rr
}

// Set is a set of declared scopes.
type Set []Scope

// ParseSet parses a list of scope names separated by commas, spaces or both
// ("READ,ACT_AS_USER", "read write"). Duplicates are removed; order is kept.
func ParseSet(s string) (Set, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	return ParseList(fields)
}

// ParseList parses scope names from a list, such as a descriptor's "scopes".
func ParseList(names []string) (Set, error) {
	var out Set
	for _, f := range names {
		sc, err := Parse(f)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// Has reports whether the set contains s exactly.
func (set Set) Has(s Scope) bool { return slices.Contains(set, s) }

// Allows reports whether an operation that needs required is permitted under
// the set. INACCESSIBLE is never allowed; NONE always is.
func (set Set) Allows(required Scope) bool {
	if required == Inaccessible {
		return false
	}
	if required == None || required == "" {
		return true
	}
	for _, s := range set {
		if s.Implies(required) {
			return true
		}
	}
	return false
}

// Highest returns the highest hierarchical scope in the set, or None.
func (set Set) Highest() Scope {
	best := None
	for _, s := range set {
		if r, ok := rank[s]; ok && r > rank[best] {
			best = s
		}
	}
	return best
}

// Strings returns the names, sorted in hierarchy order.
func (set Set) Strings() []string {
	c := slices.Clone(set)
	slices.SortFunc(c, func(a, b Scope) int { return order(a) - order(b) })
	out := make([]string, len(c))
	for i, s := range c {
		out[i] = string(s)
	}
	return out
}

func order(s Scope) int {
	if i := slices.Index(Declarable, s); i >= 0 {
		return i
	}
	return len(Declarable)
}

// String joins the names with ",".
func (set Set) String() string { return strings.Join(set.Strings(), ",") }

// Minimal returns the smallest set of declarable scopes that allows every one
// of the required scopes, and the requirements no scope can satisfy
// (INACCESSIBLE). The hierarchy part is the single highest scope needed; the
// separate axes are added as needed.
func Minimal(required []Scope) (Set, []Scope) {
	var set Set
	var unreachable []Scope
	top := None
	needSpace, needProject := false, false
	for _, r := range required {
		switch {
		case r == Inaccessible:
			if !slices.Contains(unreachable, r) {
				unreachable = append(unreachable, r)
			}
		case r == ActAsUser || r == AccessEmailAddresses:
			if !set.Has(r) {
				set = append(set, r)
			}
		case r.Hierarchical():
			if r == SpaceAdmin {
				needSpace = true
			}
			if r == ProjectAdmin {
				needProject = true
			}
			if rank[r] > rank[top] {
				top = r
			}
		}
	}
	if needSpace && needProject && top != Admin {
		top = Admin
	}
	if top == ProjectAdmin && needSpace {
		top = SpaceAdmin
	}
	if top != None {
		set = append(Set{top}, set...)
	}
	return set, unreachable
}
