package storagetest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// Cluster is a throwaway PostgreSQL server of its own (initdb into a
// temporary directory, pg_ctl on a free loopback port), for fault tests
// that stop and restart the database: the machine's shared server must
// never be stopped, other tests use it. It is removed when the test ends.
type Cluster struct {
	t       testing.TB
	bin     string // directory of initdb, pg_ctl
	dir     string // root of the temporary tree (socket directory)
	data    string // PGDATA
	port    int
	asOwner []string // command prefix that runs as the cluster's owner
}

// NewCluster initialises and starts a cluster. Without the PostgreSQL
// server binaries (/usr/lib/postgresql/*/bin/initdb) the test is skipped,
// or fails when CI is set.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := serverBinaries()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PostgreSQL server binaries (initdb, pg_ctl) are required in CI but not found under /usr/lib/postgresql/*/bin")
		}
		t.Skip("PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin")
	}
	// A short path: the Unix socket path inside it is limited to ~100 bytes.
	dir, err := os.MkdirTemp("", "cdpg")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, bin: bin, dir: dir, data: filepath.Join(dir, "data")}
	t.Cleanup(func() {
		_ = c.pgctl("stop", "-m", "immediate")
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		// initdb refuses to run as root: hand the tree to the postgres
		// user and run the binaries as that user.
		u, err := user.Lookup("postgres")
		if err != nil {
			c.fail("running as root needs a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			c.fail("chown %s: %v", dir, err)
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			c.fail("running as root needs runuser: %v", err)
		}
		c.asOwner = []string{runuser, "-u", "postgres", "--"}
	}
	if out, err := c.run(filepath.Join(bin, "initdb"), "-D", c.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
		"--no-sync", "--no-instructions"); err != nil {
		c.fail("initdb: %v\n%s", err, out)
	}
	c.port = freePort(t)
	c.Start()
	return c
}

// URL is the connection URL of the cluster's postgres database.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Start starts the server (again) on the same port and data directory and
// waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	opts := fmt.Sprintf("-k %s -p %d -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB -c max_connections=60", c.dir, c.port)
	if err := c.pgctl("start", "-w", "-t", "30", "-l", filepath.Join(c.dir, "server.log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		c.fail("pg_ctl start: %v\n%s", err, log)
	}
	db, err := sql.Open("pgx", c.URL())
	if err != nil {
		c.fail("open: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for db.PingContext(ctx) != nil {
		if ctx.Err() != nil {
			c.fail("cluster on port %d does not answer", c.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down (fast mode: open connections are closed) and
// waits until it is gone.
func (c *Cluster) Stop() {
	c.t.Helper()
	if err := c.pgctl("stop", "-w", "-m", "fast"); err != nil {
		c.fail("pg_ctl stop: %v", err)
	}
}

func (c *Cluster) pgctl(args ...string) error {
	out, err := c.run(filepath.Join(c.bin, "pg_ctl"), append([]string{"-D", c.data}, args...)...)
	if err != nil {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// run executes a server binary as the cluster's owner. pg_ctl start is
// given a log file, so the server does not hold the output pipe open.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	argv := append(slices.Clone(c.asOwner), name)
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.dir
	return cmd.CombinedOutput()
}

func (c *Cluster) fail(format string, a ...any) {
	c.t.Helper()
	c.t.Fatalf("storagetest cluster: "+format, a...)
}

// serverBinaries returns the bin directory of the newest installed
// PostgreSQL server, or "".
func serverBinaries() string {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.SortFunc(found, func(a, b string) int { return majorOf(a) - majorOf(b) })
	for i := len(found) - 1; i >= 0; i-- {
		bin := filepath.Dir(found[i])
		if _, err := os.Stat(filepath.Join(bin, "pg_ctl")); err == nil {
			return bin
		}
	}
	return ""
}

func majorOf(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
