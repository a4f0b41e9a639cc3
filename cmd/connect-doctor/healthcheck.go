package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/connect"
)

// runHealthcheck calls the local server's /readyz and exits 0 on 200, 1
// otherwise: the container healthcheck. It reads only PORT and BASE_URL (for
// the base path the routes are mounted under), so a healthcheck never fails
// on a setting the server does not need to answer it.
func runHealthcheck(args []string, std stdio) int {
	fs := cmdFlags("healthcheck")
	target := fs.String("url", "", "URL to check (default: http://127.0.0.1:$PORT<base path of BASE_URL>/readyz)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := parseNoArgs(fs, args); err != nil {
		return usageError(std, fs, err)
	}
	u := *target
	if u == "" {
		port := config.DefaultPort
		if p := std.getenv("PORT"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				fmt.Fprintf(std.err, "connect-doctor healthcheck: PORT=%q is not a port number; set PORT as the server has it, or pass --url\n", p)
				return 2
			}
			port = n
		}
		u = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + connect.BasePath(std.getenv("BASE_URL")) + "/readyz"
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		fmt.Fprintf(std.err, "connect-doctor healthcheck: --url %q: %v\n", u, err)
		return 2
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		fmt.Fprintf(std.err, "connect-doctor healthcheck: unhealthy: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(std.err, "connect-doctor healthcheck: unhealthy: %s answered %d\n", u, resp.StatusCode)
		return 1
	}
	fmt.Fprintf(std.out, "healthy: %s answered 200\n", u)
	return 0
}
