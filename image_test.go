package connectdoctor_test

// The container image, tested without a container engine: the binary is
// built with the Dockerfile's own build command and run the way the image
// runs it (entrypoint and command, environment, user, the data directory with
// its owner, the healthcheck), read from the Dockerfile so that the test
// follows it. As root the process runs in a chroot laid out like the image,
// under the image's uid; otherwise as the current (unprivileged) user with
// the image's paths relocated under a temporary directory.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// image is what the Dockerfile says about the runtime stage.
type image struct {
	buildCmd    string            // the build stage's `go build` command
	binary      string            // where the binary lands in the image
	dataDir     string            // the directory copied --chown to the runtime user
	dataOwner   [2]int            // its uid, gid
	env         map[string]string // ENV
	uid, gid    int               // USER
	entrypoint  []string
	cmd         []string
	healthcheck []string // HEALTHCHECK CMD
	volume      string
}

func readDockerfile(t *testing.T) image {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	img := image{env: map[string]string{}}
	args := map[string]string{}
	stage := 0
	jsonArray := func(s string) []string {
		var v []string
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("Dockerfile: %q is not an exec-form JSON array: %v", s, err)
		}
		return v
	}
	ids := func(s string) (int, int) {
		u, g, _ := strings.Cut(s, ":")
		uid, err1 := strconv.Atoi(u)
		gid, err2 := strconv.Atoi(g)
		if err1 != nil || err2 != nil {
			t.Fatalf("Dockerfile: %q: use numeric uid:gid so that the owner is unambiguous", s)
		}
		return uid, gid
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			stage++
		case "ARG":
			k, v, _ := strings.Cut(rest, "=")
			args[k] = v
		case "RUN":
			if stage == 1 && strings.Contains(rest, "go build") {
				img.buildCmd = os.Expand(rest, func(k string) string { return args[k] })
			}
		case "COPY":
			f := strings.Fields(rest)
			if stage == 2 && len(f) >= 3 && f[0] == "--from=build" {
				if strings.HasPrefix(f[1], "--chown=") {
					img.dataDir = f[3]
					img.dataOwner[0], img.dataOwner[1] = ids(strings.TrimPrefix(f[1], "--chown="))
				} else if filepath.Base(f[1]) == "connect-doctor" {
					img.binary = f[2]
				}
			}
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				img.env[k] = v
			}
		case "USER":
			img.uid, img.gid = ids(rest)
		case "VOLUME":
			img.volume = rest
		case "HEALTHCHECK":
			_, c, ok := strings.Cut(rest, "CMD ")
			if !ok {
				t.Fatalf("Dockerfile: HEALTHCHECK without CMD: %s", rest)
			}
			img.healthcheck = jsonArray(c)
		case "ENTRYPOINT":
			img.entrypoint = jsonArray(rest)
		case "CMD":
			img.cmd = jsonArray(rest)
		}
	}
	if img.buildCmd == "" || img.binary == "" || img.dataDir == "" || img.entrypoint == nil || img.healthcheck == nil {
		t.Fatalf("Dockerfile: missing the build command, the binary, the data directory, the entrypoint or the healthcheck: %+v", img)
	}
	return img
}

// TestDockerfileShape: the runtime user is not root, owns DATA_DIR, DATA_DIR
// is a volume, and the healthcheck asks the server (not `version`, which
// always passes); docker-compose.yml uses the same healthcheck.
func TestDockerfileShape(t *testing.T) {
	img := readDockerfile(t)
	if img.uid == 0 || img.gid == 0 {
		t.Fatalf("the image runs as uid %d gid %d; want an unprivileged user", img.uid, img.gid)
	}
	if img.env["DATA_DIR"] != img.dataDir || img.volume != img.dataDir || img.dataOwner != [2]int{img.uid, img.gid} {
		t.Fatalf("DATA_DIR=%s, VOLUME %s, %s owned by %v; want DATA_DIR a volume owned by the runtime user %d:%d",
			img.env["DATA_DIR"], img.volume, img.dataDir, img.dataOwner, img.uid, img.gid)
	}
	if len(img.healthcheck) < 2 || img.healthcheck[0] != img.binary || img.healthcheck[1] != "healthcheck" {
		t.Fatalf("HEALTHCHECK CMD %q; want %s healthcheck", img.healthcheck, img.binary)
	}
	compose, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(append([]string{"CMD"}, img.healthcheck...))
	if !strings.Contains(strings.ReplaceAll(string(compose), ", ", ","), "test: "+string(want)) {
		t.Fatalf("docker-compose.yml's app healthcheck is not test: %s", want)
	}
	ignore, err := os.ReadFile(".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".git", "data", "node_modules"} {
		if !strings.Contains("\n"+string(ignore)+"\n", "\n"+p+"\n") {
			t.Errorf(".dockerignore does not exclude %s from the build context", p)
		}
	}
}

// TestImageRunsAsBuilt builds the binary with the Dockerfile's command and
// runs it as the image does, on SQLite in DATA_DIR, until the image's
// healthcheck passes; then stops it with SIGTERM. A DATA_DIR owned by root
// (the bug this guards against) must make the same start-up fail.
func TestImageRunsAsBuilt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	img := readDockerfile(t)
	work := t.TempDir()
	out := filepath.Join(work, "out")
	build := exec.Command("sh", "-c", strings.ReplaceAll(img.buildCmd, "/out/", out+"/"))
	build.Env = append(os.Environ(), "GOFLAGS=-mod=readonly")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's build command failed: %v\n%s", err, b)
	}

	asRoot := os.Geteuid() == 0
	layout := func(t *testing.T, dataOwner [2]int) (root string, attr *syscall.SysProcAttr, path func(string) string) {
		root = t.TempDir()
		if err := os.Chmod(root, 0o755); err != nil {
			t.Fatal(err)
		}
		path = func(p string) string { return filepath.Join(root, p) }
		bin, err := os.ReadFile(filepath.Join(out, "connect-doctor"))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{filepath.Dir(img.binary), "/tmp"} {
			if err := os.MkdirAll(path(d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		_ = os.Chmod(path("/tmp"), 0o1777|os.ModeSticky)
		if err := os.WriteFile(path(img.binary), bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(path(img.dataDir), 0o700); err != nil {
			t.Fatal(err)
		}
		if asRoot {
			if err := os.Chown(path(img.dataDir), dataOwner[0], dataOwner[1]); err != nil {
				t.Fatal(err)
			}
			return root, &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: uint32(img.uid), Gid: uint32(img.gid)}},
				func(p string) string { return p }
		}
		return root, nil, path
	}
	env := func(path func(string) string, port string) []string {
		var e []string
		for k, v := range img.env {
			switch k {
			case "PORT":
				v = port // the image's 8080 may be taken on this machine
			case "DATA_DIR":
				v = path(v)
			}
			e = append(e, k+"="+v)
		}
		return e
	}
	command := func(root string, attr *syscall.SysProcAttr, path func(string) string, port string, argv []string) *exec.Cmd {
		c := exec.Command(path(argv[0]), argv[1:]...)
		c.Path = path(argv[0]) // inside the chroot when there is one: the child chroots before exec
		c.Args = append([]string{path(argv[0])}, argv[1:]...)
		c.Env, c.Dir, c.SysProcAttr = env(path, port), root, attr
		if attr != nil {
			c.Dir = "/"
		}
		return c
	}

	t.Run("data dir owned by the runtime user", func(t *testing.T) {
		root, attr, path := layout(t, img.dataOwner)
		port := freePort(t)
		var logs strings.Builder
		srv := command(root, attr, path, port, append(append([]string{}, img.entrypoint...), img.cmd...))
		srv.Stdout, srv.Stderr = &logs, &logs
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- srv.Wait() }()
		defer func() {
			_ = srv.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("the server did not stop cleanly on SIGTERM: %v\n%s", err, logs.String())
				}
			case <-time.After(20 * time.Second):
				_ = srv.Process.Kill()
				t.Error("the server did not stop on SIGTERM")
			}
		}()
		deadline := time.Now().Add(60 * time.Second)
		for {
			hc := command(root, attr, path, port, img.healthcheck)
			b, err := hc.CombinedOutput()
			if err == nil {
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("the server exited (%v) before its healthcheck passed:\n%s", err, logs.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("the healthcheck never passed: %v %s\nserver log:\n%s", err, b, logs.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
		st, err := os.Stat(filepath.Join(root, img.dataDir, "connect-doctor.db"))
		if err != nil {
			t.Fatalf("no SQLite database in %s: %v", img.dataDir, err)
		}
		if asRoot {
			if uid := st.Sys().(*syscall.Stat_t).Uid; int(uid) != img.uid {
				t.Fatalf("the database belongs to uid %d, want the runtime user %d", uid, img.uid)
			}
		}
	})

	t.Run("data dir owned by root is refused", func(t *testing.T) {
		if !asRoot {
			t.Skip("needs root to give the data directory another owner")
		}
		root, attr, path := layout(t, [2]int{0, 0})
		srv := command(root, attr, path, freePort(t), append(append([]string{}, img.entrypoint...), img.cmd...))
		done := make(chan struct{})
		var b []byte
		var err error
		go func() { b, err = srv.CombinedOutput(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = srv.Process.Kill()
			t.Fatal("the server started with a data directory it cannot write")
		}
		if err == nil || !strings.Contains(string(b), "start-up failed") ||
			!(strings.Contains(string(b), "permission denied") || strings.Contains(string(b), "unable to open database file")) {
			t.Fatalf("exit %v, output:\n%s\nwant start-up to fail on the unwritable data directory", err, b)
		}
	})
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}
