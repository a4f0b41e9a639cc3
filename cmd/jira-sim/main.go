// Command jira-sim runs the simulated Jira Cloud site (package
// sim/jirasim) for manual use: the site, the install key server and the
// OAuth 2.0 authorization server on loopback ports. It prints their URLs
// and the environment an app needs to talk to them, optionally installs
// apps from descriptor URLs, and prints the admin page URLs to open.
//
// Every flag can also be set through an environment variable named
// JIRASIM_<FLAG> in upper case with '-' as '_' (e.g. JIRASIM_PORT=9000).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/connect-doctor/connect-doctor/internal/cliflag"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/sim/jirasim"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// run is the program; it returns the exit code (2 for bad usage) and stops
// when ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("jira-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 0, "site port (0 picks a free one)")
	keyPort := fs.Int("key-port", 0, "install key server port")
	authPort := fs.Int("auth-port", 0, "OAuth 2.0 authorization server port")
	seed := fs.Int64("seed", 1, "random seed (same ids, clientKey and secrets every run)")
	usersFile := fs.String("users", "", "JSON file with an array of users (fields of jirasim.User) replacing the defaults")
	scopes := fs.String("scopes", "", "override the Connect scopes the site enforces for installed apps, e.g. READ,ACT_AS_USER")
	scopeStatus := fs.Int("scope-denial-status", 403, "status for an app JWT call outside the app's scopes")
	userScopeStatus := fs.Int("user-token-scope-denial-status", 401, "status for a user token call outside its scopes")
	botsNotAdmin := fs.Bool("app-users-not-admin", false, "create app bot users without Administer Jira")
	hideIssues := fs.Bool("hide-forbidden-issues", false, "answer 404 instead of 403 for issues the user cannot browse")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	var installs, faults listFlag
	fs.Var(&installs, "install", "descriptor URL of an app to install at start (repeatable)")
	fs.Var(&faults, "fault", "fault to inject, e.g. rate-limit,count=3,retry-after=10s or clock-skew,skew=-90s (repeatable)")
	if err := applyEnv(fs, getenv); err != nil {
		fmt.Fprintln(stderr, "jira-sim:", err)
		return 2
	}
	prog := cliflag.Program{Name: "jira-sim", Usage: "[flags]", Version: version,
		About: "Runs a simulated Jira Cloud site on loopback. Every flag can also be set as a JIRASIM_<FLAG> variable."}
	if code, done := cliflag.Parse(prog, fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "jira-sim: unexpected arguments %q\n", fs.Args())
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "jira-sim: -log-level %q: want debug, info, warn or error\n", *logLevel)
		return 2
	}
	opts := jirasim.Options{
		Seed:                       *seed,
		SiteAddr:                   addr(*port),
		KeyServerAddr:              addr(*keyPort),
		AuthServerAddr:             addr(*authPort),
		ScopeDenialStatus:          *scopeStatus,
		UserTokenScopeDenialStatus: *userScopeStatus,
		AppUsersNotAdmin:           *botsNotAdmin,
		HideForbiddenIssues:        *hideIssues,
		Logger:                     slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if *usersFile != "" {
		users, err := readUsers(*usersFile)
		if err != nil {
			fmt.Fprintln(stderr, "jira-sim:", err)
			return 2
		}
		opts.Users = users
	}
	var scopeSet scope.Set
	if *scopes != "" {
		var err error
		if scopeSet, err = scope.ParseSet(*scopes); err != nil {
			fmt.Fprintf(stderr, "jira-sim: -scopes: %v\n", err)
			return 2
		}
	}
	var parsed []jirasim.Fault
	for _, f := range faults {
		pf, err := jirasim.ParseFault(f)
		if err != nil {
			fmt.Fprintln(stderr, "jira-sim:", err)
			return 2
		}
		parsed = append(parsed, pf)
	}

	sim, err := jirasim.New(opts)
	if err != nil {
		fmt.Fprintln(stderr, "jira-sim:", err)
		return 1
	}
	defer sim.Close()
	for _, f := range parsed {
		sim.SetFault(f)
	}

	fmt.Fprintf(stdout, "Jira simulator running.\n\n")
	fmt.Fprintf(stdout, "  site (baseUrl)      %s\n", sim.URL())
	fmt.Fprintf(stdout, "  install key server  %s\n", sim.KeyServerURL())
	fmt.Fprintf(stdout, "  OAuth 2.0 server    %s  (token endpoint %s/oauth2/token)\n", sim.AuthServerURL(), sim.AuthServerURL())
	fmt.Fprintf(stdout, "  clientKey           %s\n\n", sim.ClientKey())
	fmt.Fprintf(stdout, "Environment for the app:\n")
	fmt.Fprintf(stdout, "  CONNECT_INSTALL_KEYS_URL=%s\n", sim.KeyServerURL())
	fmt.Fprintf(stdout, "  OAUTH_TOKEN_URL=%s\n", sim.AuthServerURL())
	fmt.Fprintf(stdout, "  AP_JS_URL=%s/atlassian-connect/all.js\n", sim.URL())
	fmt.Fprintf(stdout, "  ALLOWED_HOSTS=%s\n\n", strings.TrimPrefix(sim.URL(), "http://"))
	fmt.Fprintf(stdout, "Users:\n")
	for _, u := range sim.Users() {
		fmt.Fprintf(stdout, "  %-24s %-18s active=%-5v admin=%-5v browse=%s\n", u.AccountID, u.DisplayName, u.Active, u.SiteAdmin, strings.Join(u.BrowseProjects, ","))
	}

	status := 0
	for _, d := range installs {
		in, err := sim.InstallApp(ctx, d)
		if err != nil {
			fmt.Fprintf(stderr, "jira-sim: install %s: %v\n", d, err)
			status = 1
			continue
		}
		if scopeSet != nil {
			if err := sim.SetScopes(in.AppKey, scopeSet); err != nil {
				fmt.Fprintln(stderr, "jira-sim:", err)
				return 1
			}
			in.Scopes = scopeSet
		}
		fmt.Fprintf(stdout, "\nInstalled %s (scopes %s, bot %s).\n", in.AppKey, in.Scopes, in.BotAccountID)
		for _, m := range sim.AdminPageKeys(in.AppKey) {
			fmt.Fprintf(stdout, "  admin page %q as admin: %s\n", m, sim.AdminPageURL(in.AppKey, m, sim.User("admin").AccountID))
			fmt.Fprintf(stdout, "  admin page %q as user:  %s\n", m, sim.AdminPageURL(in.AppKey, m, sim.User("user").AccountID))
		}
	}
	if status != 0 {
		return status
	}
	fmt.Fprintln(stdout, "\nPress Ctrl-C to stop.")
	<-ctx.Done()
	return 0
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// applyEnv sets every flag that has a JIRASIM_<NAME> variable.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "JIRASIM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v := getenv(name)
		if v == "" || err != nil {
			return
		}
		// Repeatable flags take a whitespace-separated list.
		if _, ok := f.Value.(*listFlag); ok {
			for item := range strings.FieldsSeq(v) {
				if e := f.Value.Set(item); e != nil {
					err = fmt.Errorf("%s: %w", name, e)
				}
			}
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = fmt.Errorf("%s=%q: %w", name, v, e)
		}
	})
	return err
}

func readUsers(path string) ([]jirasim.User, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-users: %w", err)
	}
	var users []jirasim.User
	if err := json.Unmarshal(b, &users); err != nil {
		return nil, fmt.Errorf("-users %s: not a JSON array of users: %w", path, err)
	}
	if len(users) == 0 {
		return nil, errors.New("-users: the file lists no users")
	}
	return users, nil
}
