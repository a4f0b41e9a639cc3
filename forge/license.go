package forge

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// LicenseState is what a verified FIT's app.license says about the
// installation's Marketplace license.
//
// Facts (Forge Remote essentials, the FIT table): app.license "is only
// present for paid apps in the production environment"; it is undefined
// for free apps, for the DEVELOPMENT and STAGING environments, and for apps
// not listed on the Marketplace. Its active flag is "active"; "isActive"
// is the older name, deprecated (forge.md §1.3). Both are read, "active"
// first, so the check keeps working whichever of the two Forge sends.
type LicenseState int

// License states.
const (
	// LicenseAbsent: the FIT has no app.license (free app, development or
	// staging environment, app not listed on the Marketplace).
	LicenseAbsent LicenseState = iota
	// LicenseActive: app.license.active (or the deprecated isActive) is
	// true.
	LicenseActive
	// LicenseInactive: the flag is false (expired, cancelled, unpaid).
	LicenseInactive
	// LicenseUnknown: app.license is present without either flag; it is
	// treated as not active.
	LicenseUnknown
)

func (s LicenseState) String() string {
	switch s {
	case LicenseAbsent:
		return "absent"
	case LicenseActive:
		return "active"
	case LicenseInactive:
		return "inactive"
	}
	return "unknown"
}

// IsActiveLicense reads the license's active flag: "active", falling back
// to the deprecated "isActive" when "active" is absent. known is false
// when neither is present.
func (l *License) IsActiveLicense() (active, known bool) {
	switch {
	case l == nil:
		return false, false
	case l.Active != nil:
		return *l.Active, true
	case l.IsActive != nil:
		return *l.IsActive, true
	}
	return false, false
}

// LicenseState classifies the FIT's app.license.
func (c *Claims) LicenseState() LicenseState {
	if c == nil || c.App.License == nil {
		return LicenseAbsent
	}
	active, known := c.App.License.IsActiveLicense()
	switch {
	case !known:
		return LicenseUnknown
	case active:
		return LicenseActive
	}
	return LicenseInactive
}

// LicensePolicy says which invocations RequireLicense admits. The zero
// value admits only an active license in PRODUCTION and lets the other
// environments through (Forge never sends a license there).
type LicensePolicy struct {
	// AllowAbsentInProduction admits production invocations that carry no
	// app.license: a free or private (unlisted) app that still wants
	// inactive licenses refused. Off by default: a paid listed app always
	// receives app.license in production.
	AllowAbsentInProduction bool
	// RequireInAllEnvironments also refuses development and staging
	// invocations without an active license (Atlassian's internal
	// license-state testing can add one there).
	RequireInAllEnvironments bool
	// DenyEvaluation refuses an active evaluation (trial) licence too;
	// by default an evaluation counts as active, as Atlassian's docs treat
	// it.
	DenyEvaluation bool
}

// License refusals. Status 402 Payment Required: the caller is
// authenticated, the installation is not paid for.
var (
	ErrLicenseInactive = &Sentinel{code: "forge_license_inactive",
		msg:    "the app's Marketplace license for this site is not active",
		hint:   "A site administrator renews or buys the app's licence in Apps > Manage apps; Forge then sends app.license.active=true with every invocation.",
		status: http.StatusPaymentRequired}
	ErrLicenseAbsent = &Sentinel{code: "forge_license_absent",
		msg:    "the invocation carries no app.license, and this route needs an active licence",
		hint:   "Forge sends app.license only for paid apps listed on the Marketplace, in the PRODUCTION environment. A free or private app should not require a licence (or set AllowAbsentInProduction).",
		status: http.StatusPaymentRequired}
	ErrLicenseEvaluation = &Sentinel{code: "forge_license_evaluation",
		msg:    "the app's licence for this site is an evaluation licence, and this route needs a paid one",
		hint:   "Buy the app after the evaluation, or let the route admit evaluation licences.",
		status: http.StatusPaymentRequired}
)

// CheckLicense applies p to verified claims: nil when the invocation may
// proceed, otherwise an error wrapping one of the license Sentinels.
func (p LicensePolicy) CheckLicense(c *Claims) error {
	if c == nil {
		return ErrFITMissing
	}
	st := c.LicenseState()
	prod := strings.EqualFold(c.App.Environment.Type, EnvProduction)
	switch st {
	case LicenseActive:
		if p.DenyEvaluation && c.App.License.IsEvaluation != nil && *c.App.License.IsEvaluation {
			return ErrLicenseEvaluation
		}
		return nil
	case LicenseAbsent:
		if (!prod && !p.RequireInAllEnvironments) || (prod && p.AllowAbsentInProduction) {
			return nil
		}
		return fmt.Errorf("%w (environment %s)", ErrLicenseAbsent, orNone(c.App.Environment.Type))
	case LicenseUnknown:
		return fmt.Errorf("%w: app.license has neither active nor isActive", ErrLicenseInactive)
	}
	return ErrLicenseInactive
}

// RequireLicense wraps next so that it runs only for invocations whose
// verified claims (ClaimsFromContext, put there by Middleware) pass p.
// Refusals go to onError (api/httperr.Write renders the envelope); a nil
// onError answers the Sentinel's status with its code.
func RequireLicense(p LicensePolicy, next http.Handler, onError func(http.ResponseWriter, *http.Request, error)) http.Handler {
	if onError == nil {
		onError = func(w http.ResponseWriter, _ *http.Request, err error) {
			status := http.StatusPaymentRequired
			var s *Sentinel
			if errors.As(err, &s) {
				status = s.Status()
			}
			http.Error(w, Code(err), status)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFromContext(r.Context())
		if !ok {
			onError(w, r, ErrFITMissing)
			return
		}
		if err := p.CheckLicense(c); err != nil {
			onError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
