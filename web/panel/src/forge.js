/* Forge adapter: the panel as the Custom UI of the jira:adminPage module.
   API calls go through @forge/bridge invokeRemote to the page's resolver
   endpoint (manifest: resolver.endpoint doctor-ui -> remote doctor), under
   /forge/api/…. invokeRemote is proxied by Forge, which adds the FIT and the
   OAuth tokens the endpoint's auth enables (x-forge-oauth-system and
   x-forge-oauth-user): the app needs the user token for checks "as me".
   (requestRemote would reach the remote directly with the FIT only, and
   the app would have to fall back to an offline user token.) */
import { startPanel } from "./core.js";
import { startQuota } from "./quota.js";

// @forge/bridge looks up window.__bridge (provided by the Forge host, or by
// the simulator's Custom UI host) when its modules load, so it is required
// only once the bridge is known to be there.
function bridge() {
  return require("@forge/bridge");
}

function forgeAdapter(root) {
  var apiBase = root.getAttribute("data-api") || "/forge/api";
  return {
    kind: "forge",
    unavailable: function () {
      if (globalThis.__bridge && typeof globalThis.__bridge.callBridge === "function") { return null; }
      return { code: "forge_bridge_unavailable", message: "The Forge bridge is not there: open Connect Doctor from Jira's administration (Apps).", hint: "This page is the app's Custom UI; it only works inside Jira, which provides @forge/bridge's host." };
    },
    context: function () {
      return bridge().view.getContext().then(function (c) {
        c = c || {};
        return { siteUrl: c.siteUrl || "", accountId: c.accountId || "", view: "" };
      });
    },
    call: function (method, path, body) {
      var input = { path: apiBase + path, method: method, headers: { "Accept": "application/json" } };
      if (body !== undefined) {
        input.headers["Content-Type"] = "application/json";
        input.body = body;
      }
      return bridge().invokeRemote(input).then(function (r) {
        if (!r || typeof r.status !== "number") {
          throw { code: "forge_invoke_failed", message: "Forge could not call the app's remote: " + String((r && (r.message || r.errorMessage)) || "no response") + ".",
            hint: "Check that the remote's baseUrl in manifest.yml is BASE_URL and reachable over HTTPS, and that the endpoint module points at it." };
        }
        var headers = {};
        Object.keys(r.headers || {}).forEach(function (k) { headers[k.toLowerCase()] = r.headers[k]; });
        return { status: r.status, json: r.body === undefined ? null : r.body, headers: headers };
      });
    },
    resize: function () { /* Forge sizes the Custom UI iframe to its content */ }
  };
}

function start() {
  var root = document.getElementById("cd-panel");
  if (root) { var a = forgeAdapter(root); startPanel(a); startQuota(a); }
}

if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
