package forgeapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/storage"
)

// ConnectClientKeyProperty is the reserved, read-only app property that
// holds the Connect clientKey for a Forge app with app.connect.key
// (forge.md §1.7 option 2, Atlassian's migrate-connect-clientkey page).
// It disappears when Connect reaches end of support (2027-01-31); a 404
// is then the normal answer.
const ConnectClientKeyProperty = "connect_client_key_019cdff3-8bfb-71fe-9628-875b700aebb8"

// ClientKeyLinker links an installation to the Connect tenant whose
// clientKey Forge reported. *storage.ForgeStore implements it.
type ClientKeyLinker interface {
	LinkConnectClientKey(ctx context.Context, installationID, clientKey string) (*storage.ForgeInstallation, error)
}

// Outcomes of the clientKey lookup (EventAnswer.ClientKeyLookup and the
// log): never a reason to fail the event.
const (
	ckLinked      = "linked"
	ckAbsent      = "absent"    // 404: no property (no app.connect.key, or after Connect's end)
	ckMalformed   = "malformed" // not {"key":…,"value":…} with a clientKey
	ckOtherSite   = "other_site"
	ckNoTenant    = "no_connect_tenant"
	ckUnavailable = "unavailable" // gateway or store failure
)

// errMalformedProperty: the property's answer holds no clientKey.
var errMalformedProperty = errors.New("forgeapi: the clientKey app property is malformed")

// parseClientKeyProperty reads the Connect app property answer
// {"key": "...", "value": ...}: the value is documented only as "holds
// the Connect clientKey", so a JSON string and an object with a clientKey
// field are both accepted; anything else is malformed.
func parseClientKeyProperty(body []byte) (string, error) {
	var p struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(body, &p); err != nil || len(p.Value) == 0 {
		return "", errMalformedProperty
	}
	if p.Key != "" && p.Key != ConnectClientKeyProperty {
		return "", errMalformedProperty
	}
	var ck string
	if json.Unmarshal(p.Value, &ck) != nil {
		var obj struct {
			ClientKey string `json:"clientKey"`
		}
		if json.Unmarshal(p.Value, &obj) != nil {
			return "", errMalformedProperty
		}
		ck = obj.ClientKey
	}
	ck = strings.TrimSpace(ck)
	if ck == "" || len(ck) > 255 || strings.ContainsAny(ck, "\x00\r\n") {
		return "", errMalformedProperty
	}
	return ck, nil
}

// linkByClientKey runs forge.md §1.7 option 2 for an installation not yet
// linked: it reads the reserved property as the app (the event's system
// token, else the stored one) through the Forge gateway and links the
// installation when the Connect tenant exists on the same site. Every
// failure is logged and answered as an outcome, never as an error: the
// installed event still succeeds, and the next installed, upgraded or
// scheduled event tries again (Connect's own payload, option 1, also
// links it when it arrives).
func (s *Server) linkByClientKey(ctx context.Context, inv *Invocation, inst *storage.ForgeInstallation) (*storage.ForgeInstallation, string) {
	linker, ok := s.Store.(ClientKeyLinker)
	if s.ConnectKey == "" || s.Admin == nil || !ok || inst == nil || inst.ClientKey != "" {
		return inst, ""
	}
	id := inst.InstallationID
	log := s.Logger.With(slog.String("installation_id", id))
	t, _, err := s.Store.Tenant(ctx, id)
	if err != nil {
		log.Warn("forge: clientKey lookup skipped", slog.String("error", err.Error()))
		return inst, ckUnavailable
	}
	var src jira.BearerSource
	if inv.Tokens.System.Present() {
		src = forge.StaticBearer{Token: inv.Tokens.System, Now: s.Now}
	} else {
		sys, err := s.systemToken(ctx, inv)
		if err != nil || !sys.Present() {
			log.Info("forge: clientKey lookup skipped: no system token")
			return inst, ckUnavailable
		}
		src = forge.StaticBearer{Token: sys, Now: s.Now}
	}
	path := "/rest/atlassian-connect/1/addons/" + url.PathEscape(s.ConnectKey) + "/properties/" + ConnectClientKeyProperty
	resp, err := s.Admin.AsForgeApp(t, src).Call(ctx, http.MethodGet, path, nil)
	var ae *jira.APIError
	switch {
	case errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound:
		log.Debug("forge: no Connect clientKey property")
		return inst, ckAbsent
	case err != nil:
		log.Warn("forge: clientKey lookup failed", slog.String("error", err.Error()))
		return inst, ckUnavailable
	}
	ck, err := parseClientKeyProperty(resp.Body)
	if err != nil {
		log.Warn("forge: clientKey property malformed", slog.Int("bytes", len(resp.Body)))
		return inst, ckMalformed
	}
	out, err := linker.LinkConnectClientKey(ctx, id, ck)
	switch {
	case errors.Is(err, storage.ErrOtherSite):
		log.Warn("forge: clientKey property names a Connect tenant of another site: not linked", slog.String("client_key", ck))
		return inst, ckOtherSite
	case errors.Is(err, storage.ErrNoConnectTenant):
		log.Info("forge: clientKey property names no installed Connect tenant yet", slog.String("client_key", ck))
		return inst, ckNoTenant
	case err != nil:
		log.Warn("forge: clientKey link failed", slog.String("error", err.Error()))
		return inst, ckUnavailable
	}
	log.Info("forge: linked by the Connect clientKey property", slog.String("client_key", ck))
	s.invalidate(out)
	return out, ckLinked
}
