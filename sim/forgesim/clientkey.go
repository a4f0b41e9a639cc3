package forgesim

import (
	"encoding/json"
	"net/http"
	"strings"
)

// ConnectClientKeyProperty is the reserved app property through which a
// Forge app with app.connect.key reads its Connect clientKey (forge.md
// §1.7 option 2).
const ConnectClientKeyProperty = "connect_client_key_019cdff3-8bfb-71fe-9628-875b700aebb8"

const connectAddonsPrefix = "/rest/atlassian-connect/1/addons/"

// ClientKeyProperty is what GET /rest/atlassian-connect/1/addons/{addonKey}/
// properties/connect_client_key_… answers for one installation. The zero
// value (and an installation never configured) answers 404, as after
// Connect's end of support.
type ClientKeyProperty struct {
	Status int    // 0: 404
	Body   string // raw JSON body
}

// ClientKeyValue is the property holding clientKey as a JSON string, in the
// Connect app property shape {"key": …, "value": …}.
func ClientKeyValue(clientKey string) ClientKeyProperty {
	b, _ := json.Marshal(map[string]any{"key": ConnectClientKeyProperty, "value": clientKey})
	return ClientKeyProperty{Status: http.StatusOK, Body: string(b)}
}

// ClientKeyObject is the property with an object value {"clientKey": …}
// (the value's shape is not documented; a remote should read both).
func ClientKeyObject(clientKey string) ClientKeyProperty {
	b, _ := json.Marshal(map[string]any{"key": ConnectClientKeyProperty, "value": map[string]string{"clientKey": clientKey}})
	return ClientKeyProperty{Status: http.StatusOK, Body: string(b)}
}

// ClientKeyMalformed is a 200 answer whose value holds no clientKey.
func ClientKeyMalformed() ClientKeyProperty {
	return ClientKeyProperty{Status: http.StatusOK, Body: `{"key":"` + ConnectClientKeyProperty + `","value":42}`}
}

// ClientKeyOutage is a gateway 5xx.
func ClientKeyOutage() ClientKeyProperty {
	return ClientKeyProperty{Status: http.StatusServiceUnavailable, Body: `{"code":503,"message":"Service Unavailable"}`}
}

// SetClientKeyProperty sets the property the installation's system token
// reads; ClientKeyProperty{} makes it absent (404).
func (g *Gateway) SetClientKeyProperty(installationID string, p ClientKeyProperty) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ckProps == nil {
		g.ckProps = map[string]ClientKeyProperty{}
	}
	g.ckProps[installationID] = p
}

// isClientKeyProperty reports whether apiPath is
// /rest/atlassian-connect/1/addons/{addonKey}/properties/<the reserved
// key>; every other Connect app property path goes to the catalog (a
// Connect-only operation, refused to OAuth 2.0 tokens).
func isClientKeyProperty(apiPath string) bool {
	rest, ok := strings.CutPrefix(apiPath, connectAddonsPrefix)
	if !ok {
		return false
	}
	addon, key, ok := strings.Cut(rest, "/properties/")
	return ok && addon != "" && !strings.Contains(addon, "/") && key == ConnectClientKeyProperty
}

// serveAddonProperty answers GET on the reserved clientKey property,
// read-only; any token of the installation that passed the gateway's
// checks reads it.
func (g *Gateway) serveAddonProperty(w http.ResponseWriter, r *http.Request, in *Installation) (int, string) {
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, jiraErrors("The reserved property is read-only."))
		return http.StatusMethodNotAllowed, "read-only property"
	}
	g.mu.Lock()
	p, set := g.ckProps[in.InstallationID]
	g.mu.Unlock()
	if !set || p.Status == 0 || p.Status == http.StatusNotFound {
		writeJSON(w, http.StatusNotFound, map[string]any{"statusCode": 404, "message": "Property with key not found."})
		return http.StatusNotFound, "property absent"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(p.Status)
	_, _ = w.Write([]byte(p.Body))
	return p.Status, ""
}
