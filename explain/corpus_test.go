package explain_test

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/explain/capture"
)

// The real-world corpus: explain/testdata/corpus/<family>/<slug>.txt, one
// public report per file (format: a header, a line "---", then the paste).
// TestCorpus reads every case exactly as `connect-doctor explain --capture`
// would (capture.Flags, the same flags and parser), diagnoses it and
// compares the leading cause with the report's resolution.

var updateCorpusTable = flag.Bool("update-corpus-table", false, "rewrite the corpus accuracy table in README.md")

// Goals (issue 14), and the floors: the accuracy reached so far (a
// ratchet: raise them as the engine improves, never lower them to make a
// change pass). The test fails below the higher of the two.
const (
	goalOverall   = 0.95
	goalFamily    = 0.90
	floorOverall  = 0.97
	floorFamily   = 0.90
	familyMinSize = 5
	decileSlack   = 0.10
	decileMinSize = 5
)

type corpusCase struct {
	file    string
	family  string
	source  string
	cause   string
	also    []string
	service string
	flags   []string
	signal  string
	input   string
	raw     string
	rawLine int // line number of the first raw line
}

// errCaseFormat wraps every format error of a case file.
var errCaseFormat = errors.New("corpus case format")

func formatErr(file string, line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %w: %s", file, line, errCaseFormat, fmt.Sprintf(format, args...))
}

// parseCase reads one case file. known says whether a cause code exists.
func parseCase(file, text string, known func(string) bool) (corpusCase, error) {
	c := corpusCase{file: file, family: filepath.Base(filepath.Dir(file))}
	lines := strings.Split(text, "\n")
	sep := -1
	seen := map[string]int{}
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		if l == "---" {
			sep = i
			break
		}
		if strings.TrimSpace(l) == "" {
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return c, formatErr(file, i+1, "header line %q is not \"key: value\" (or the \"---\" separator is missing)", trunc(l, 60))
		}
		if prev, dup := seen[k]; dup {
			return c, formatErr(file, i+1, "header %q repeated (first on line %d)", k, prev)
		}
		seen[k] = i + 1
		switch k {
		case "source":
			if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
				return c, formatErr(file, i+1, "source %q is not a URL", trunc(v, 60))
			}
			c.source = v
		case "cause":
			if v != "none" && !known(v) {
				return c, formatErr(file, i+1, "cause %q is not a code of explain/CODES.md", v)
			}
			c.cause = v
		case "also":
			for _, a := range strings.Fields(v) {
				if !known(a) {
					return c, formatErr(file, i+1, "also %q is not a code of explain/CODES.md", a)
				}
				c.also = append(c.also, a)
			}
		case "service":
			c.service = v
		case "flags":
			f, err := splitFlags(v)
			if err != nil {
				return c, formatErr(file, i+1, "flags: %v", err)
			}
			c.flags = f
		case "signal":
			c.signal = v
		case "note":
		case "input":
			if v != "har" {
				return c, formatErr(file, i+1, "input %q: the only value is \"har\"", v)
			}
			c.input = v
		default:
			return c, formatErr(file, i+1, "unknown header %q (want source, cause, also, service, flags, signal, note, input)", k)
		}
	}
	if sep < 0 {
		return c, formatErr(file, len(lines), "no \"---\" line between the header and the paste")
	}
	for _, req := range []string{"source", "cause", "service"} {
		if _, ok := seen[req]; !ok {
			return c, formatErr(file, 1, "required header %q missing", req)
		}
	}
	c.rawLine = sep + 2
	c.raw = strings.Join(lines[sep+1:], "\n")
	if strings.TrimSpace(c.raw) == "" {
		return c, formatErr(file, sep+2, "nothing after \"---\"")
	}
	if c.input == "har" != capture.LooksLikeHAR(c.raw) {
		return c, formatErr(file, sep+2, "the paste is %s but the header says input %q", map[bool]string{true: "a HAR", false: "not a HAR"}[capture.LooksLikeHAR(c.raw)], c.input)
	}
	return c, nil
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// splitFlags splits a flags line as a POSIX shell would for plain words,
// single and double quotes.
func splitFlags(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// caseInput builds the input as the CLI does: the case's flags plus
// --capture <the paste>. Token times are judged by the response's Date
// header (the moment the report was captured), never by today's clock.
func caseInput(c corpusCase) (explain.Input, error) {
	fset := flag.NewFlagSet("explain", flag.ContinueOnError)
	fset.SetOutput(new(strings.Builder))
	var f capture.Flags
	f.Bind(fset)
	const pasteName = "<paste>"
	if err := fset.Parse(append(append([]string{}, c.flags...), "--capture", pasteName)); err != nil {
		return explain.Input{}, err
	}
	if fset.NArg() > 0 {
		return explain.Input{}, fmt.Errorf("unexpected argument %q", fset.Arg(0))
	}
	files := map[string]string{pasteName: c.raw}
	items, err := f.Inputs(capture.Env{ReadFile: func(name string) (string, error) {
		if s, ok := files[name]; ok {
			return s, nil
		}
		// A flag may name a file next to the case (--descriptor).
		b, err := os.ReadFile(filepath.Join(filepath.Dir(c.file), name))
		return string(b), err
	}})
	if err != nil {
		return explain.Input{}, err
	}
	return items[0].Input, nil
}

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	var cases []corpusCase
	known := func(code string) bool { _, ok := explain.LookupCode(code); return ok }
	err := filepath.WalkDir(filepath.Join("testdata", "corpus"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".txt") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		c, err := parseCase(p, string(b), known)
		if err != nil {
			return err
		}
		cases = append(cases, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no corpus cases under testdata/corpus")
	}
	return cases
}

type corpusResult struct {
	c       corpusCase
	d       explain.Diagnosis
	got     string
	conf    float64
	correct bool
	status  int
}

func judge(c corpusCase, d explain.Diagnosis) corpusResult {
	r := corpusResult{c: c, d: d, got: "none", status: d.Status}
	if top, ok := d.Top(); ok && (d.Status < 200 || d.Status >= 300 || explain.IsFailureCause(top.Code)) {
		r.got, r.conf = top.Code, top.Confidence
	}
	want := append([]string{c.cause}, c.also...)
	for _, w := range want {
		if w == r.got {
			r.correct = true
		}
	}
	if r.got == "none" {
		// Saying nothing is right only for a case without a failure cause;
		// its confidence is that of "no failure here".
		r.conf = 0.9
	}
	return r
}

func runCorpus(t *testing.T) []corpusResult {
	cases := loadCorpus(t)
	var out []corpusResult
	for _, c := range cases {
		in, err := caseInput(c)
		if err != nil {
			t.Errorf("%s:%d: the CLI would refuse this paste: %v", c.file, c.rawLine, err)
			continue
		}
		out = append(out, judge(c, engine.Diagnose(in)))
	}
	return out
}

type tally struct{ n, ok int }

func (t tally) rate() float64 {
	if t.n == 0 {
		return 0
	}
	return float64(t.ok) / float64(t.n)
}

// TestCorpus measures the engine on the corpus and fails under the goals.
func TestCorpus(t *testing.T) {
	res := runCorpus(t)
	fam := map[string]*tally{}
	var all tally
	type decile struct {
		n, ok int
		sum   float64
	}
	var dec [10]decile
	for _, r := range res {
		f := fam[r.c.family]
		if f == nil {
			f = &tally{}
			fam[r.c.family] = f
		}
		f.n++
		all.n++
		if r.correct {
			f.ok++
			all.ok++
		} else {
			t.Logf("MISS %s: want %s, got %s (%.0f%%): %s", r.c.file, strings.Join(append([]string{r.c.cause}, r.c.also...), "|"), r.got, r.conf*100, r.d.Summary)
		}
		i := int(math.Min(9, math.Floor(r.conf*10)))
		dec[i].n++
		dec[i].sum += r.conf
		if r.correct {
			dec[i].ok++
		}
		for _, c := range r.d.Causes {
			if r.status >= 200 && r.status < 300 && explain.IsFailureCause(c.Code) {
				t.Errorf("%s: a %d answer got failure cause %s", r.c.file, r.status, c.Code)
			}
		}
	}
	names := make([]string, 0, len(fam))
	for n := range fam {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "corpus: %d/%d top-1 (%.1f%%)\n", all.ok, all.n, all.rate()*100)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-18s %3d/%-3d %5.1f%%\n", n, fam[n].ok, fam[n].n, fam[n].rate()*100)
	}
	b.WriteString("calibration (confidence decile: cases, mean confidence, observed accuracy)\n")
	for i, d := range dec {
		if d.n == 0 {
			continue
		}
		fmt.Fprintf(&b, "  %.1f–%.1f: %3d cases, said %5.1f%%, right %5.1f%%\n", float64(i)/10, float64(i+1)/10, d.n, d.sum/float64(d.n)*100, float64(d.ok)/float64(d.n)*100)
	}
	t.Log("\n" + b.String())
	if *updateCorpusTable {
		if err := writeCorpusTable(names, fam, all, dec[:], func(d decile) (int, float64, float64) {
			if d.n == 0 {
				return 0, 0, 0
			}
			return d.n, d.sum / float64(d.n), float64(d.ok) / float64(d.n)
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The test fails below max(goal, floor): the goals are met, so the
	// floors (the ratchet) are what holds.
	if r, min := all.rate(), max(goalOverall, floorOverall); r < min {
		t.Errorf("top-1 %.1f%% overall, below %.0f%% (goal %.0f%%, floor %.0f%%)", r*100, min*100, goalOverall*100, floorOverall*100)
	}
	for _, n := range names {
		f := fam[n]
		if f.n < familyMinSize {
			continue
		}
		if r, min := f.rate(), max(goalFamily, floorFamily); r < min {
			t.Errorf("family %s: top-1 %.1f%% on %d cases, below %.0f%% (goal %.0f%%, floor %.0f%%)", n, r*100, f.n, min*100, goalFamily*100, floorFamily*100)
		}
	}
	for i, d := range dec {
		if d.n < decileMinSize {
			continue
		}
		said, right := d.sum/float64(d.n), float64(d.ok)/float64(d.n)
		if math.Abs(said-right) > decileSlack {
			t.Errorf("calibration: decile %.1f–%.1f says %.0f%% on average but is right %.0f%% of %d cases", float64(i)/10, float64(i+1)/10, said*100, right*100, d.n)
		}
	}
}

const (
	tableBegin = "<!-- corpus-table:begin (generated: go test ./explain -run TestCorpus -update-corpus-table) -->"
	tableEnd   = "<!-- corpus-table:end -->"
)

func writeCorpusTable[D any](names []string, fam map[string]*tally, all tally, dec []D, stat func(D) (int, float64, float64)) error {
	var fb strings.Builder
	fb.WriteString("| family | cases | top-1 right | accuracy |\n|---|---:|---:|---:|\n")
	for _, n := range names {
		fmt.Fprintf(&fb, "| %s | %d | %d | %.0f%% |\n", n, fam[n].n, fam[n].ok, fam[n].rate()*100)
	}
	fmt.Fprintf(&fb, "| **all** | **%d** | **%d** | **%.1f%%** |\n", all.n, all.ok, all.rate()*100)
	var cb strings.Builder
	cb.WriteString("| stated confidence | cases | mean stated | observed right |\n|---|---:|---:|---:|\n")
	for i, d := range dec {
		n, said, right := stat(d)
		if n == 0 {
			continue
		}
		fmt.Fprintf(&cb, "| %.1f–%.1f | %d | %.0f%% | %.0f%% |\n", float64(i)/10, float64(i+1)/10, n, said*100, right*100)
	}
	readme := "\n" + fb.String() + "\nCalibration (stated confidence of the leading cause against how often it is right): [docs/diagnosis.md](docs/diagnosis.md#accuracy-and-calibration).\n\n"
	if err := replaceBlock(filepath.Join("..", "README.md"), tableBegin, tableEnd, readme); err != nil {
		return err
	}
	doc := "\n" + cb.String() + "\nPer family:\n\n" + fb.String() + "\n"
	return replaceBlock(filepath.Join("..", "docs", "diagnosis.md"), calibrationBegin, calibrationEnd, doc)
}

const (
	calibrationBegin = "<!-- calibration:begin (generated: go test ./explain -run TestCorpus -update-corpus-table) -->"
	calibrationEnd   = "<!-- calibration:end -->"
)

// replaceBlock replaces what lies between two marker lines of a file.
func replaceBlock(path, begin, end, body string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %q … %q markers", path, begin, end)
	}
	s = s[:i] + begin + "\n" + body + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

// TestCorpusTableMarkers keeps the README and docs sections the generator
// writes.
func TestCorpusTableMarkers(t *testing.T) {
	for _, f := range []struct{ path, begin, end string }{
		{filepath.Join("..", "README.md"), tableBegin, tableEnd},
		{filepath.Join("..", "docs", "diagnosis.md"), calibrationBegin, calibrationEnd},
	} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if !strings.Contains(s, f.begin) || !strings.Contains(s, f.end) || strings.Index(s, f.end) < strings.Index(s, f.begin) {
			t.Errorf("%s lacks the generated-table markers %q … %q", f.path, f.begin, f.end)
		}
	}
}

// TestCorpusCaseFormat: a broken case file fails with its name and line.
func TestCorpusCaseFormat(t *testing.T) {
	known := func(code string) bool { return code == "token_expired" }
	good := "source: https://example.com/r\ncause: token_expired\nservice: Jira Cloud\n---\nHTTP/1.1 401 Unauthorized\n\n"
	tests := []struct {
		name, text, want string
	}{
		{"good", good, ""},
		{"no separator", "source: https://example.com/r\ncause: token_expired\nservice: Jira\n", "no \"---\" line"},
		{"unknown code", strings.Replace(good, "token_expired", "token_gone", 1), "x.txt:2: corpus case format: cause \"token_gone\""},
		{"not key value", "source https://example.com\n---\nHTTP/1.1 401 x\n", "x.txt:1:"},
		{"unknown header", "source: https://example.com/r\nreason: x\n---\n", "x.txt:2: corpus case format: unknown header"},
		{"missing service", "source: https://example.com/r\ncause: token_expired\n---\nHTTP/1.1 401 x\n", "required header \"service\""},
		{"unterminated quote", "source: https://example.com/r\ncause: none\nservice: x\nflags: --scopes \"READ\n---\nHTTP/1.1 200 OK\n", "x.txt:4:"},
		{"empty paste", "source: https://example.com/r\ncause: none\nservice: x\n---\n\n", "x.txt:5:"},
		{"source not a URL", "source: a forum\n---\n", "x.txt:1:"},
		{"har mismatch", "source: https://example.com/r\ncause: none\nservice: x\ninput: har\n---\nHTTP/1.1 200 OK\n", "x.txt:6:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseCase("testdata/corpus/jira/x.txt", tc.text, known)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, errCaseFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestCorpusJudge: the comparison of a diagnosis with a case.
func TestCorpusJudge(t *testing.T) {
	c := corpusCase{cause: explain.TokenExpired, also: []string{explain.CredentialsRejected}}
	d := explain.Diagnosis{Status: http.StatusUnauthorized, Causes: []explain.Cause{{Code: explain.CredentialsRejected, Confidence: 0.7}}}
	if r := judge(c, d); !r.correct || r.conf != 0.7 {
		t.Errorf("an 'also' code is right: %+v", r)
	}
	d.Causes[0].Code = explain.AuthHeaderMissing
	if judge(c, d).correct {
		t.Errorf("another code is wrong")
	}
	none := corpusCase{cause: "none"}
	if r := judge(none, explain.Diagnosis{Status: 200}); !r.correct {
		t.Errorf("no cause on a 'none' case is right")
	}
	if r := judge(none, d); r.correct {
		t.Errorf("a cause on a 'none' case is wrong")
	}
}
