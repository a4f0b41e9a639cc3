package connectdoctor_test

// The README is tested like code: the commands of its first screen run as
// written in a copy of the repository (what a fresh clone has), every
// `connect-doctor <command>` it or docs/ name exists, its library example is
// docs/examples/hello/main.go byte for byte and that program serves, every
// relative link in README.md and docs/*.md resolves (file and #anchor), and
// the configuration table in docs/operations.md lists every variable the
// configuration reads.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/connect-doctor/connect-doctor/config"
)

// firstScreenLines is how much of the README a reader sees before scrolling:
// every command in a sh block that starts within it must work verbatim.
const firstScreenLines = 50

// fence is one fenced code block of a Markdown file.
type fence struct {
	lang string
	line int // 1-based line of the opening ```
	body string
}

// fences returns the fenced code blocks of a Markdown text.
func fences(text string) []fence {
	var out []fence
	var cur *fence
	var body strings.Builder
	for i, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "```") {
			if cur != nil {
				body.WriteString(l + "\n")
			}
			continue
		}
		if cur == nil {
			cur = &fence{lang: strings.TrimSpace(strings.TrimPrefix(l, "```")), line: i + 1}
			body.Reset()
			continue
		}
		cur.body = body.String()
		out = append(out, *cur)
		cur = nil
	}
	return out
}

// shellCommands splits a sh block into commands: continuation lines ending
// in a backslash are joined, blank lines and comment lines dropped.
func shellCommands(body string) []string {
	var out []string
	var cur strings.Builder
	for _, l := range strings.Split(body, "\n") {
		if cur.Len() == 0 && (strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#")) {
			continue
		}
		if strings.HasSuffix(l, `\`) {
			cur.WriteString(strings.TrimSuffix(l, `\`) + " ")
			continue
		}
		cur.WriteString(l)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// firstScreenCommands returns the commands of the sh blocks that start in
// the README's first screen.
func firstScreenCommands(readme string) []string {
	var cmds []string
	for _, f := range fences(readme) {
		if f.line <= firstScreenLines && f.lang == "sh" {
			cmds = append(cmds, shellCommands(f.body)...)
		}
	}
	return cmds
}

func TestReadmeFirstScreenCommandsFound(t *testing.T) {
	cmds := firstScreenCommands(readFile(t, "README.md"))
	// The two commands at the top, then the failing-request reader's.
	for _, want := range []string{"go run ./cmd/connect-doctor dev", "go test ./...", "explain --capture", "jwt decode"} {
		if !slices.ContainsFunc(cmds, func(c string) bool { return strings.Contains(c, want) }) {
			t.Errorf("no command containing %q in the README's first %d lines; found %q", want, firstScreenLines, cmds)
		}
	}
}

// firstScreenOutput: what a first-screen command must print, beyond exiting 0.
var firstScreenOutput = []struct{ command, output string }{
	{"explain --capture docs/examples/permissions-401.txt", "1. The access token lacks the required scope [token_scope_missing"},
	{"explain --capture docs/examples/permissions-401.txt", "needs Connect scope ADMIN"},
	{"jwt decode", "the query string was left out of the hash"},
	{"jwt decode", "signature: valid with the given secret"},
}

// TestReadmeFirstScreen runs every command of the README's first screen as
// written, in order, in a copy of the repository's files (tracked and not
// ignored: a fresh clone plus work not yet committed). `dev` runs until it
// answers /readyz and is then interrupted, and must say goodbye; the test
// command is the one CI runs (with -race), not run again from here.
func TestReadmeFirstScreen(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the README's commands; not in -short")
	}
	readme := readFile(t, "README.md")
	dir := copyRepo(t)
	bin := t.TempDir()
	env := cleanEnv(map[string]string{"GOBIN": bin, "PATH": bin + string(os.PathListSeparator) + os.Getenv("PATH")})
	cmds := firstScreenCommands(readme)
	if len(cmds) < 4 {
		t.Fatalf("only %d commands in the README's first screen: %q", len(cmds), cmds)
	}
	for _, cmd := range cmds {
		t.Run(cmd, func(t *testing.T) {
			switch {
			case strings.HasPrefix(cmd, "go test "):
				checkCIRuns(t, cmd)
			case regexp.MustCompile(`connect-doctor dev\b`).MatchString(cmd):
				runDev(t, dir, env, cmd)
			default:
				out := runShell(t, dir, env, cmd)
				if shown, ok := shownOutput(readme)[cmd]; ok {
					checkShownOutput(t, cmd, shown, out)
				}
				for _, w := range firstScreenOutput {
					if strings.Contains(cmd, w.command) && !strings.Contains(out, w.output) {
						t.Errorf("%s\ndoes not print %q; it printed:\n%s", cmd, w.output, out)
					}
				}
			}
		})
	}
}

// checkCIRuns: .ci/run runs the README's test command, maybe with flags
// added (-race), on the same packages.
func checkCIRuns(t *testing.T, cmd string) {
	want := strings.Fields(strings.TrimSpace(strings.SplitN(cmd, "#", 2)[0]))
	for _, l := range strings.Split(readFile(t, ".ci/run"), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != "go" || f[1] != "test" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && slices.Contains(f, w)
		}
		if ok && slices.Contains(f, "-race") {
			return
		}
	}
	t.Fatalf(".ci/run has no `go test -race` line running the README's %q", cmd)
}

// cleanEnv is the environment of a fresh shell: this test's variables that
// would change what the commands do (a database, a data directory, a port)
// are dropped, then set is applied.
func cleanEnv(set map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DATABASE_URL", "DATA_DIR", "PORT", "BASE_URL", "ENCRYPTION_KEY", "FORGE_APP_ID":
			continue
		}
		if _, ok := set[k]; !ok {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

func runShell(t *testing.T, dir string, env []string, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "sh", "-c", cmd)
	c.Dir, c.Env = dir, env
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s\nfailed: %v\n%s", cmd, err, out)
	}
	return string(out)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// runDev starts the dev command with PORT=0 in its own process group, waits
// for it to print the app's URL, checks /readyz, interrupts it as Ctrl-C
// does (SIGINT to the group) and expects a clean exit with a goodbye.
func runDev(t *testing.T, dir string, env []string, cmd string) {
	t.Helper()
	// Run as a terminal would, without a shell in between that would itself
	// die of the interrupt: the command is words only (and a comment).
	line := strings.TrimSpace(strings.SplitN(cmd, "#", 2)[0])
	if strings.ContainsAny(line, "|&;<>()$`\\\"'*?[]{}~") {
		t.Fatalf("%q: the dev command in the first screen must be plain words", cmd)
	}
	argv := strings.Fields(line)
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir, c.Env = dir, append(slices.Clone(env), "PORT=0")
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &lockedBuffer{}
	c.Stdout, c.Stderr = out, out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	})
	appLine := regexp.MustCompile(`(?m)^\s*app\s+(http://127\.0\.0\.1:\d+)\s`)
	deadline := time.Now().Add(4 * time.Minute) // the first go run compiles
	var base string
	for base == "" {
		if m := appLine.FindStringSubmatch(out.String()); m != nil && strings.Contains(out.String(), "Ctrl-C") {
			base = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("%s exited early (%v):\n%s", cmd, err, out.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s printed no app URL in time:\n%s", cmd, out.String())
		}
	}
	if strings.HasSuffix(base, ":8080") {
		t.Errorf("dev ignored PORT=0 and listens on %s", base)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s/readyz: %d", base, resp.StatusCode)
	}
	if err := syscall.Kill(-c.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		// `go run` itself exits 1 when interrupted, even when the program
		// exits 0; it prints "exit status N" only when the program failed.
		goRunInterrupted := argv[0] == "go" && len(argv) > 1 && argv[1] == "run" && c.ProcessState.ExitCode() == 1 &&
			!regexp.MustCompile(`(?m)^exit status \d+$`).MatchString(out.String())
		if err != nil && !goRunInterrupted {
			t.Errorf("%s exited with %v after Ctrl-C:\n%s", cmd, err, out.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s did not stop after Ctrl-C:\n%s", cmd, out.String())
	}
	if !strings.Contains(out.String(), "Goodbye") {
		t.Errorf("%s said no goodbye on Ctrl-C:\n%s", cmd, out.String())
	}
}

// copyRepo copies the repository's files as a fresh clone would have them
// (tracked, plus new files not ignored; never .git or ./data) to a
// temporary directory.
func copyRepo(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	var files []string
	if out, err := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output(); err == nil {
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
	} else { // not a git checkout: everything but .git and data
		err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (p == ".git" || p == "data" || p == "node_modules") {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		info, err := os.Lstat(f)
		if err != nil { // deleted in the work tree but still tracked
			continue
		}
		if !info.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// buildCLI builds connect-doctor into a temporary directory.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "connect-doctor")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/connect-doctor").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// codeText returns the code of a Markdown text: fenced blocks and inline
// code spans, where command names are written.
func codeText(md string) []string {
	var out []string
	for _, f := range fences(md) {
		out = append(out, f.body)
	}
	for _, m := range regexp.MustCompile("`([^`\n]+)`").FindAllStringSubmatch(stripFences(md), -1) {
		out = append(out, m[1])
	}
	return out
}

// stripFences blanks the fenced blocks of a Markdown text, keeping its lines.
func stripFences(md string) string {
	lines := strings.Split(md, "\n")
	in := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			in = !in
			lines[i] = ""
			continue
		}
		if in {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

func markdownFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"README.md"}, docs...)
}

// TestReadmeNamesRealCommands: every `connect-doctor <command>` written in
// the code of README.md and docs/*.md is a command of the CLI (the list
// `connect-doctor help` prints), and answers --help with exit 0.
func TestReadmeNamesRealCommands(t *testing.T) {
	bin := buildCLI(t)
	out, err := exec.Command(bin, "help").Output()
	if err != nil {
		t.Fatalf("connect-doctor help: %v", err)
	}
	names := map[string]bool{"help": true}
	groups := map[string]bool{}
	row := regexp.MustCompile(`^  (\S+(?: \S+)?)\s{2,}\S`)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := row.FindStringSubmatch(sc.Text()); m != nil {
			names[m[1]] = true
			if first, _, ok := strings.Cut(m[1], " "); ok {
				groups[first] = true
			}
		}
	}
	if len(names) < 10 {
		t.Fatalf("could not read the command list:\n%s", out)
	}
	mention := regexp.MustCompile(`\bconnect-doctor ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?`)
	seen := map[string]string{}
	for _, f := range markdownFiles(t) {
		for _, code := range codeText(readFile(t, f)) {
			for _, m := range mention.FindAllStringSubmatch(code, -1) {
				name := m[1]
				if groups[name] {
					name += " " + m[2]
				}
				if !names[name] {
					t.Errorf("%s names `connect-doctor %s`, which is not a command (connect-doctor help lists %v)", f, name, keys(names))
					continue
				}
				seen[name] = f
			}
		}
	}
	for name, f := range seen {
		if name == "help" {
			continue
		}
		args := append(strings.Fields(name), "--help")
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Errorf("%s names `connect-doctor %s`; `connect-doctor %s --help` failed: %v\n%s", f, name, name, err, out)
		}
	}
	if len(seen) < 5 {
		t.Fatalf("only %d commands found in the docs: %v", len(seen), seen)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestReadmeLibraryExample: the README's Go example is
// docs/examples/hello/main.go byte for byte, and that program builds, starts
// on SQLite and serves: /readyz, the descriptor, and its own route behind
// context-token verification (401 without a token).
func TestReadmeLibraryExample(t *testing.T) {
	const file = "docs/examples/hello/main.go"
	var snippet *fence
	for _, f := range fences(readFile(t, "README.md")) {
		if f.lang == "go" {
			snippet = &f
			break
		}
	}
	if snippet == nil {
		t.Fatal("README.md has no go block")
	}
	if want := readFile(t, file); snippet.body != want {
		t.Fatalf("README.md's go block (line %d) differs from %s: copy the file into the README", snippet.line, file)
	}
	if testing.Short() {
		t.Skip("builds and runs the example; not in -short")
	}
	bin := filepath.Join(t.TempDir(), "hello")
	if out, err := exec.Command("go", "build", "-o", bin, "./"+filepath.Dir(file)).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", file, err, out)
	}
	port := freePort(t) // image_test.go
	c := exec.Command(bin)
	c.Env = cleanEnv(map[string]string{"PORT": port, "DATA_DIR": t.TempDir()})
	out := &lockedBuffer{}
	c.Stdout, c.Stderr = out, out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	base := "http://127.0.0.1:" + port
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if code, _ := get("/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the example never answered /readyz:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := get("/atlassian-connect.json"); code != http.StatusOK || !strings.Contains(body, `"key"`) {
		t.Errorf("GET /atlassian-connect.json: %d %s", code, body)
	}
	if code, body := get("/api/me"); code != http.StatusUnauthorized {
		t.Errorf("GET /api/me without a context token: %d %s, want 401", code, body)
	}
}

// slug is the anchor GitHub gives a heading: lower case, letters, digits,
// marks, spaces, hyphens and underscores kept, spaces made hyphens.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the heading anchors of a Markdown text (duplicates get
// -1, -2, … as on GitHub).
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	count := map[string]int{}
	heading := regexp.MustCompile(`^#{1,6} (.+)$`)
	for _, l := range strings.Split(stripFences(md), "\n") {
		m := heading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		s := slug(m[1])
		if n := count[s]; n > 0 {
			out[fmt.Sprintf("%s-%d", s, n)] = true
		} else {
			out[s] = true
		}
		count[s]++
	}
	return out
}

func TestSlug(t *testing.T) {
	tests := []struct{ heading, want string }{
		{"Load (issue 7 §5)", "load-issue-7-5"},
		{"Walkthrough: the `/rest/api/2/permissions` case", "walkthrough-the-restapi2permissions-case"},
		{"How well `explain` does on real reports", "how-well-explain-does-on-real-reports"},
		{"The panel's API", "the-panels-api"},
	}
	for _, tc := range tests {
		if got := slug(tc.heading); got != tc.want {
			t.Errorf("slug(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
}

// TestDocsLinksResolve: every relative link and image in README.md and
// docs/*.md names a file of the repository, and its #anchor a heading there.
func TestDocsLinksResolve(t *testing.T) {
	link := regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)\)`)
	code := regexp.MustCompile("`[^`\n]*`")
	checked := 0
	for _, f := range markdownFiles(t) {
		md := readFile(t, f)
		text := code.ReplaceAllString(stripFences(md), "")
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			resolved := f
			if path != "" {
				resolved = filepath.Join(filepath.Dir(f), path)
				if _, err := os.Stat(resolved); err != nil {
					t.Errorf("%s links to %s: no such file (%s)", f, target, resolved)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(resolved, ".md") {
				if !anchors(readFile(t, resolved))[anchor] {
					t.Errorf("%s links to %s: %s has no heading with anchor #%s", f, target, resolved, anchor)
				}
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d links checked", checked)
	}
}

// TestConfigTableComplete: every variable the configuration reads (with
// Forge off and on) has a row in docs/operations.md's configuration tables.
func TestConfigTableComplete(t *testing.T) {
	read := map[string]bool{}
	for _, forge := range []string{"", "8db33809-1f32-48bb-8c52-5877dab48107"} {
		config.Load(func(k string) string {
			read[k] = true
			if k == "FORGE_APP_ID" {
				return forge
			}
			return ""
		})
	}
	ops := readFile(t, "docs/operations.md")
	var rows []string
	for _, l := range strings.Split(ops, "\n") {
		if strings.HasPrefix(l, "|") {
			cells := strings.SplitN(l, "|", 3)
			rows = append(rows, cells[1])
		}
	}
	for v := range read {
		if !slices.ContainsFunc(rows, func(first string) bool { return strings.Contains(first, "`"+v+"`") }) {
			t.Errorf("docs/operations.md has no table row for %s, which config.Load reads", v)
		}
	}
	if len(read) < 20 {
		t.Fatalf("config.Load read only %d variables: %v", len(read), read)
	}
}

// layoutEntries reads a layout block (the first fenced block without a
// language whose lines start with a folder): each entry's folders, in order.
// "tenant/, scope/" is one entry of two folders; "api/httperr (…)" named in
// a description is not an entry.
func layoutEntries(md string) [][]string {
	entry := regexp.MustCompile(`^((?:[a-z][a-z0-9-]*(?:/[a-z][a-z0-9-]*)*/?)(?:, [a-z][a-z0-9-]*(?:/[a-z][a-z0-9-]*)*/?)*)\s{2,}`)
	for _, f := range fences(md) {
		if f.lang != "" || !strings.HasPrefix(f.body, "cmd/") {
			continue
		}
		var out [][]string
		for _, l := range strings.Split(f.body, "\n") {
			m := entry.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			var folders []string
			for _, d := range strings.Split(m[1], ", ") {
				folders = append(folders, strings.TrimSuffix(d, "/"))
			}
			out = append(out, folders)
		}
		return out
	}
	return nil
}

// TestReadmeLayoutOrder: the README and docs/architecture.md say imports
// run one way, down their layout lists; no package imports a package of an
// entry above its own (a package belongs to the entry with the longest
// matching folder).
func TestReadmeLayoutOrder(t *testing.T) {
	const mod = "github.com/connect-doctor/connect-doctor/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, mod) {
				imports[strings.TrimPrefix(f[0], mod)] = append(imports[strings.TrimPrefix(f[0], mod)], strings.TrimPrefix(imp, mod))
			}
		}
	}
	for _, file := range []string{"README.md", "docs/architecture.md"} {
		t.Run(file, func(t *testing.T) {
			entries := layoutEntries(readFile(t, file))
			if len(entries) < 10 {
				t.Fatalf("%s: no layout list found (%d entries)", file, len(entries))
			}
			index := func(pkg string) int {
				best, at := -1, -1
				for i, e := range entries {
					for _, d := range e {
						if (pkg == d || strings.HasPrefix(pkg, d+"/")) && len(d) > best {
							best, at = len(d), i
						}
					}
				}
				return at
			}
			for pkg, imps := range imports {
				from := index(pkg)
				if from < 0 {
					continue
				}
				for _, imp := range imps {
					if to := index(imp); to >= 0 && to < from {
						t.Errorf("%s: %s (entry %v) imports %s (entry %v), which the list puts above it", file, pkg, entries[from], imp, entries[to])
					}
				}
			}
		})
	}
}

// shownOutput maps a first-screen command to the output the README shows
// for it: the text fence right after an sh fence that holds that one
// command.
func shownOutput(readme string) map[string]string {
	out := map[string]string{}
	fs := fences(readme)
	for i := 0; i+1 < len(fs); i++ {
		if fs[i].line > firstScreenLines || fs[i].lang != "sh" || fs[i+1].lang != "text" {
			continue
		}
		if cmds := shellCommands(fs[i].body); len(cmds) == 1 {
			out[cmds[0]] = fs[i+1].body
		}
	}
	return out
}

// checkShownOutput: the README's excerpt of a command's output is what the
// command prints, up to line wrapping; "…" marks a cut, so each piece
// between cuts must appear, in order.
func checkShownOutput(t *testing.T, cmd, shown, out string) {
	t.Helper()
	got := strings.Join(strings.Fields(out), " ")
	at := 0
	for _, piece := range strings.Split(shown, "…") {
		piece = strings.Join(strings.Fields(piece), " ")
		if piece == "" {
			continue
		}
		i := strings.Index(got[at:], piece)
		if i < 0 {
			t.Errorf("the README shows, for %s:\n%s\nbut the command does not print it (in order); it printed:\n%s", cmd, piece, out)
			return
		}
		at += i + len(piece)
	}
}

func TestCheckShownOutput(t *testing.T) {
	out := "1. cause [code, 96%]\n   fix: do this, then that.\n"
	for _, tc := range []struct {
		name, shown string
		fail        bool
	}{
		{"wrapped", "1. cause [code, 96%]\n fix: do this,\n then …", false},
		{"stale figure", "1. cause [code, 94%]", true},
		{"out of order", "then that. … 1. cause", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := &testing.T{}
			done := make(chan struct{})
			go func() { defer close(done); checkShownOutput(ft, "cmd", tc.shown, out) }()
			<-done
			if ft.Failed() != tc.fail {
				t.Errorf("failed = %v, want %v", ft.Failed(), tc.fail)
			}
		})
	}
}
