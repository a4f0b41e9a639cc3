package jirasim

import (
	"strconv"
	"strings"
	"time"
)

// project and issue are the simulated site's content: invented data in
// Jira's shapes.
type project struct {
	ID, Key, Name, TypeKey string
	LeadRole               string
}

type issue struct {
	ID, Key      string
	ProjectKey   string
	Summary      string
	Description  string
	IssueType    string
	Status       string
	Priority     string
	Labels       []string
	ReporterRole string
	AssigneeRole string
	Created      time.Time
	Updated      time.Time
}

func (s *Sim) initData() {
	s.projects = []*project{
		{ID: "10000", Key: "DOC", Name: "Doctor Demo", TypeKey: "software", LeadRole: "admin"},
		{ID: "10001", Key: "OPS", Name: "Operations", TypeKey: "business", LeadRole: "admin"},
		{ID: "10002", Key: "SEC", Name: "Security Desk", TypeKey: "service_desk", LeadRole: "admin"},
	}
	base := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	seed := []struct{ proj, summary, typ, status, prio, reporter, assignee string }{
		{"DOC", "Admin panel shows a 401 after reinstall", "Bug", "In Progress", "High", "user", "admin"},
		{"DOC", "Explain qsh mismatches in plain words", "Story", "To Do", "Medium", "admin", ""},
		{"DOC", "Cache user tokens per scope set", "Task", "Done", "Low", "admin", "user"},
		{"OPS", "Rotate the install key monthly", "Task", "To Do", "Medium", "admin", "admin"},
		{"OPS", "Rate limit alerts are too noisy", "Bug", "To Do", "Medium", "admin", ""},
		{"SEC", "Review the IP allowlist for the office", "Task", "In Progress", "High", "admin", "admin"},
	}
	count := map[string]int{}
	for i, e := range seed {
		count[e.proj]++
		id := strconv.Itoa(s.nextID)
		s.nextID++
		s.issues = append(s.issues, &issue{
			ID: id, Key: e.proj + "-" + strconv.Itoa(count[e.proj]), ProjectKey: e.proj,
			Summary: e.summary, Description: "Created by the Jira simulator for testing.",
			IssueType: e.typ, Status: e.status, Priority: e.prio, Labels: []string{"simulated"},
			ReporterRole: e.reporter, AssigneeRole: e.assignee,
			Created: base.Add(time.Duration(i) * 26 * time.Hour), Updated: base.Add(time.Duration(i)*26*time.Hour + 3*time.Hour),
		})
	}
}

// projectLocked finds a project by id or key (case-insensitive key).
func (s *Sim) projectLocked(idOrKey string) *project {
	for _, p := range s.projects {
		if p.ID == idOrKey || strings.EqualFold(p.Key, idOrKey) {
			return p
		}
	}
	return nil
}

// issueLocked finds an issue by id or key.
func (s *Sim) issueLocked(idOrKey string) *issue {
	for _, is := range s.issues {
		if is.ID == idOrKey || strings.EqualFold(is.Key, idOrKey) {
			return is
		}
	}
	return nil
}

func (s *Sim) nextIssueKey(projectKey string) string {
	max := 0
	for _, is := range s.issues {
		if is.ProjectKey != projectKey {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(is.Key, projectKey+"-")); err == nil && n > max {
			max = n
		}
	}
	return projectKey + "-" + strconv.Itoa(max+1)
}
