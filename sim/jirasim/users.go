package jirasim

import (
	"fmt"
	"slices"
	"strings"
)

// User is a user of the simulated site.
type User struct {
	AccountID   string
	DisplayName string
	Email       string
	Active      bool
	// SiteAdmin means the user holds the Administer Jira global permission.
	SiteAdmin bool
	// BrowseProjects lists the project keys the user may browse; "*" means
	// every project.
	BrowseProjects []string
	// AdminProjects lists the project keys the user administers.
	AdminProjects []string
	// Role names the user for Sim.User ("admin", "user", "inactive", or any
	// other name); empty means inferred.
	Role string
	// AccountType is "atlassian" for people and "app" for app bot users
	// (default "atlassian").
	AccountType string
	// TimeZone and Locale, e.g. "Europe/Berlin" and "en_US".
	TimeZone, Locale string
}

func (u *User) canBrowse(projectKey string) bool {
	if u == nil || !u.Active {
		return false
	}
	return slices.Contains(u.BrowseProjects, "*") || slices.Contains(u.BrowseProjects, projectKey)
}

func (u *User) adminsProject(projectKey string) bool {
	if u == nil || !u.Active {
		return false
	}
	return slices.Contains(u.AdminProjects, "*") || slices.Contains(u.AdminProjects, projectKey)
}

func (u *User) isAdmin() bool { return u != nil && u.Active && u.SiteAdmin }

func (s *Sim) initUsers(users []User) error {
	if users == nil {
		users = []User{
			{AccountID: s.accountID(), DisplayName: "Ada Admin", Email: "ada.admin@example.com", Active: true, SiteAdmin: true,
				BrowseProjects: []string{"*"}, AdminProjects: []string{"*"}, Role: "admin", TimeZone: "Europe/Berlin", Locale: "en_US"},
			{AccountID: s.accountID(), DisplayName: "Uma User", Email: "uma.user@example.com", Active: true,
				BrowseProjects: []string{"DOC"}, Role: "user", TimeZone: "America/New_York", Locale: "en_US"},
			{AccountID: s.accountID(), DisplayName: "Ivo Inactive", Email: "ivo.inactive@example.com", Active: false,
				BrowseProjects: []string{"DOC"}, Role: "inactive", TimeZone: "Australia/Sydney", Locale: "en_AU"},
		}
	}
	seen := map[string]bool{}
	for i := range users {
		u := users[i]
		u.BrowseProjects = slices.Clone(u.BrowseProjects)
		u.AdminProjects = slices.Clone(u.AdminProjects)
		if u.AccountID == "" {
			u.AccountID = s.accountID()
		}
		if seen[u.AccountID] {
			return fmt.Errorf("jirasim: duplicate user accountId %q", u.AccountID)
		}
		seen[u.AccountID] = true
		defaultsUser(&u)
		s.users = append(s.users, &u)
		if u.Role != "" {
			if _, dup := s.roles[u.Role]; !dup {
				s.roles[u.Role] = u.AccountID
			}
		}
	}
	infer := func(role string, pred func(*User) bool) {
		if _, ok := s.roles[role]; ok {
			return
		}
		for _, u := range s.users {
			if u.Role == "" && pred(u) {
				s.roles[role] = u.AccountID
				return
			}
		}
	}
	infer("admin", func(u *User) bool { return u.Active && u.SiteAdmin })
	infer("user", func(u *User) bool { return u.Active && !u.SiteAdmin })
	infer("inactive", func(u *User) bool { return !u.Active })
	return nil
}

func defaultsUser(u *User) {
	if u.AccountType == "" {
		u.AccountType = "atlassian"
	}
	if u.TimeZone == "" {
		u.TimeZone = "Etc/UTC"
	}
	if u.Locale == "" {
		u.Locale = "en_US"
	}
	if u.DisplayName == "" {
		u.DisplayName = "User " + u.AccountID[:6]
	}
}

// User returns the user playing a role: "admin", "user", "inactive",
// "bot:<appKey>" for an installed app's bot user, or any role named in
// Options.Users. A user can also be fetched by accountId. The zero User
// means none.
func (s *Sim) User(role string) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.userByRoleLocked(role); u != nil {
		return cloneUser(u)
	}
	return User{}
}

func (s *Sim) userByRoleLocked(role string) *User {
	if appKey, ok := strings.CutPrefix(role, "bot:"); ok {
		if in := s.installs[appKey]; in != nil {
			return s.userLocked(in.BotAccountID)
		}
		return nil
	}
	if id, ok := s.roles[role]; ok {
		return s.userLocked(id)
	}
	return s.userLocked(role)
}

// Users returns every user, app bots included.
func (s *Sim) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, len(s.users))
	for i, u := range s.users {
		out[i] = cloneUser(u)
	}
	return out
}

// UpdateUser replaces the user with u.AccountID (active flag, permissions,
// names), for example to take Administer Jira away from an app's bot user.
func (s *Sim) UpdateUser(u User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.userLocked(u.AccountID)
	if cur == nil {
		return fmt.Errorf("%w: %q", ErrUnknownUser, u.AccountID)
	}
	u.BrowseProjects = slices.Clone(u.BrowseProjects)
	u.AdminProjects = slices.Clone(u.AdminProjects)
	if u.Role == "" {
		u.Role = cur.Role
	}
	if u.AccountType == "" {
		u.AccountType = cur.AccountType
	}
	defaultsUser(&u)
	*cur = u
	return nil
}

func (s *Sim) userLocked(accountID string) *User {
	for _, u := range s.users {
		if u.AccountID == accountID {
			return u
		}
	}
	return nil
}

func cloneUser(u *User) User {
	c := *u
	c.BrowseProjects = slices.Clone(u.BrowseProjects)
	c.AdminProjects = slices.Clone(u.AdminProjects)
	return c
}
