package panel

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/jira"
)

// CodeQuotaUnavailable: the deployment has no rate-limit gate.
const CodeQuotaUnavailable = "quota_unavailable"

// QuotaSource reports a tenant's rate-limit state (*jira.Limiter).
type QuotaSource interface {
	Quota(clientKey string) jira.QuotaState
}

// QuotaView is the JSON of GET /api/quota: the tenant's points quota as
// this instance sees it.
type QuotaView struct {
	WindowStart time.Time `json:"windowStart"`
	ResetsAt    time.Time `json:"resetsAt"`
	// Policy, Quota and Remaining come from Jira's last RateLimit headers
	// (Remaining is -1 until Jira reports it: it does only above 80% use);
	// Beta means the quota is reported but not yet enforced for the app.
	Policy    string `json:"policy,omitempty"`
	Quota     int64  `json:"quota"`
	Remaining int64  `json:"remaining"`
	Beta      bool   `json:"beta"`
	// LeasedPoints and UnusedPoints are this instance's lease of the
	// shared budget for the tenant in this window: spent = leased - unused.
	LeasedPoints int64              `json:"leasedPoints"`
	UnusedPoints int64              `json:"unusedPoints"`
	SpentPoints  int64              `json:"spentPoints"`
	ShareSpentAt *time.Time         `json:"shareSpentUntil,omitempty"`
	Paused       []PauseView        `json:"paused"`
	Busiest      []jira.EndpointUse `json:"busiestEndpoints"`
}

// PauseView is one pause covering the tenant.
type PauseView struct {
	Reason string    `json:"reason"`
	Scope  string    `json:"scope"` // global, tenant, endpoint, issue
	Target string    `json:"target,omitempty"`
	Until  time.Time `json:"until"`
}

func (p *Panel) quota(c *gin.Context) {
	if p.Quota == nil {
		httperr.Abort(c, http.StatusNotFound, CodeQuotaUnavailable, "This deployment does not track rate limits.", "Enable the rate-limit gate (jira.Options.RateLimit).")
		return
	}
	v := p.Viewer(c)
	q := p.Quota.Quota(v.Tenant.ClientKey)
	out := QuotaView{WindowStart: q.WindowStart, ResetsAt: q.ResetsAt, Quota: -1, Remaining: -1,
		LeasedPoints: q.Lease.Granted, UnusedPoints: q.Lease.Left, SpentPoints: q.Lease.Granted - q.Lease.Left,
		Paused: []PauseView{}, Busiest: q.Busiest}
	if out.Busiest == nil {
		out.Busiest = []jira.EndpointUse{}
	}
	if q.Known {
		out.Policy, out.Quota, out.Remaining, out.Beta = q.Policy.Name, q.Policy.Quota, q.Policy.Remaining, q.Policy.Beta
	}
	if !q.Lease.Denied.IsZero() && q.Lease.Denied.After(p.Now()) {
		d := q.Lease.Denied
		out.ShareSpentAt = &d
	}
	for _, ps := range q.Pauses {
		target := ""
		switch ps.Scope {
		case jira.ScopeEndpoint:
			target = ps.Method + " " + ps.Endpoint
		case jira.ScopeIssue:
			target = ps.Issue
		}
		out.Paused = append(out.Paused, PauseView{Reason: ps.Reason, Scope: ps.Scope.String(), Target: target, Until: ps.Until})
	}
	c.JSON(http.StatusOK, out)
}
