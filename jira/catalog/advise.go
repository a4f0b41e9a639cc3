package catalog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/connect-doctor/connect-doctor/scope"
)

// Request is a concrete (or template) request: a method and a path.
type Request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
}

// ErrRequest is returned by ParseRequest for a line that is not
// "METHOD PATH".
var ErrRequest = errors.New(`want "METHOD PATH"`)

// ParseRequest reads "GET /rest/api/3/myself" (any amount of space between
// the two; the method in any case).
func ParseRequest(line string) (Request, error) {
	f := strings.Fields(line)
	if len(f) != 2 || !isMethod(f[0]) {
		return Request{}, fmt.Errorf("%w: %q", ErrRequest, strings.TrimSpace(line))
	}
	return Request{Method: strings.ToUpper(f[0]), Path: f[1]}, nil
}

// Advice is the scope advisor's answer for a list of operations an app
// calls.
type Advice struct {
	// Scopes is the minimal set of Connect scopes to declare so that every
	// reachable operation is allowed (hierarchy order).
	Scopes scope.Set `json:"scopes"`
	// Operations lists each recognised operation once, with the scope it
	// needs; it includes the inaccessible ones.
	Operations []AdvisedOperation `json:"operations"`
	// Inaccessible lists the operations no Connect scope reaches
	// (INACCESSIBLE): the app cannot call them, whatever it declares.
	Inaccessible []AdvisedOperation `json:"inaccessible"`
	// Unknown lists inputs the catalog does not know (never guessed).
	Unknown []UnknownOperation `json:"unknown"`
}

// AdvisedOperation is one recognised operation in an Advice.
type AdvisedOperation struct {
	Input         string      `json:"input"`
	Method        string      `json:"method"`
	Template      string      `json:"template"`
	OperationID   string      `json:"operationId"`
	RequiredScope scope.Scope `json:"requiredScope"`
	Permission    string      `json:"permission"`
	Deprecated    bool        `json:"deprecated,omitempty"`
}

// UnknownOperation is an input the advisor could not map.
type UnknownOperation struct {
	Input  string `json:"input"`
	Reason string `json:"reason"`
}

// Advise computes the minimal Connect scope set for the requests (concrete
// paths or templates, as Match accepts them).
func (c *Catalog) Advise(reqs []Request) Advice {
	adv := Advice{Scopes: scope.Set{}, Operations: []AdvisedOperation{}, Inaccessible: []AdvisedOperation{}, Unknown: []UnknownOperation{}}
	var seen []*Operation
	var required []scope.Scope
	for _, r := range reqs {
		input := strings.ToUpper(r.Method) + " " + r.Path
		op, ok := c.Find(r.Method, r.Path)
		if !ok {
			adv.Unknown = append(adv.Unknown, UnknownOperation{Input: input, Reason: c.unknownReason(r)})
			continue
		}
		if slices.Contains(seen, op) {
			continue
		}
		seen = append(seen, op)
		a := AdvisedOperation{Input: input, Method: op.Method, Template: op.Path, OperationID: op.OperationID,
			RequiredScope: op.ConnectScope, Permission: op.Permission, Deprecated: op.Deprecated}
		adv.Operations = append(adv.Operations, a)
		if op.ConnectScope == scope.Inaccessible {
			adv.Inaccessible = append(adv.Inaccessible, a)
		}
		required = append(required, op.ConnectScope)
	}
	if set, _ := scope.Minimal(required); len(set) > 0 {
		adv.Scopes = scope.Set{}
		for _, s := range set.Strings() {
			adv.Scopes = append(adv.Scopes, scope.Scope(s))
		}
	}
	return adv
}

// unknownReason tells an unknown path from a known path without that method.
func (c *Catalog) unknownReason(r Request) string {
	ops := c.PathOperations(r.Path)
	if len(ops) == 0 {
		return "no operation in the catalog matches this path"
	}
	methods := make([]string, len(ops))
	for i, op := range ops {
		methods[i] = op.Method
	}
	slices.Sort(methods)
	return fmt.Sprintf("the path is known (%s) but has no %s operation; methods there: %s",
		ops[0].Path, strings.ToUpper(r.Method), strings.Join(methods, ", "))
}

// AdviseLines reads one operation per line ("METHOD PATH"; blank lines and
// lines starting with # are ignored; a bare operationId is accepted too) and
// advises on them. Malformed lines are reported under Unknown; only a read
// error is returned.
func (c *Catalog) AdviseLines(r io.Reader) (Advice, error) {
	var reqs []Request
	var bad []UnknownOperation
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if req, err := ParseRequest(line); err == nil {
			reqs = append(reqs, req)
			continue
		}
		if op, ok := c.ByOperationID(line); ok {
			reqs = append(reqs, Request{Method: op.Method, Path: op.Path})
			continue
		}
		bad = append(bad, UnknownOperation{Input: line, Reason: `not "METHOD PATH" nor a known operationId`})
	}
	if err := sc.Err(); err != nil {
		return Advice{}, err
	}
	adv := c.Advise(reqs)
	adv.Unknown = append(bad, adv.Unknown...)
	return adv, nil
}
