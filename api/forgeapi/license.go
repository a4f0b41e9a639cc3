package forgeapi

import (
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/forge"
)

// License is the verified FIT's app.license state: absent (free app,
// development or staging environment, unlisted app), active, inactive or
// unknown (present without a flag). Handlers read details from
// inv.Claims.App.License.
func (inv *Invocation) License() forge.LicenseState {
	if inv == nil {
		return forge.LicenseAbsent
	}
	return inv.Claims.LicenseState()
}

// RequireActiveLicense admits a Forge invocation only when its verified
// FIT's app.license passes p (forge.LicensePolicy: by default an active
// licence in PRODUCTION, anything in development and staging, where Forge
// sends none). A refusal is the JSON error envelope with status 402 and
// code forge_license_inactive, forge_license_absent or
// forge_license_evaluation, each with a hint. Mount it after the FIT
// middleware, on the routes the app charges for; never on the event
// routes (Forge sends them for unlicensed installations too, e.g. the
// pre-uninstall call after a licence lapsed).
func (s *Server) RequireActiveLicense(p forge.LicensePolicy) gin.HandlerFunc {
	return func(c *gin.Context) {
		inv, ok := FromContext(c.Request.Context())
		if !ok {
			abortFIT(c, forge.ErrFITMissing)
			return
		}
		if err := p.CheckLicense(inv.Claims); err != nil {
			s.Logger.Info("forge: unlicensed use refused", slog.String("installation_id", inv.Claims.InstallationID()),
				slog.String("code", forge.Code(err)), slog.String("license", inv.License().String()))
			httperr.AbortErr(c, err)
			return
		}
		c.Next()
	}
}
