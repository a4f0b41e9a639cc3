/* Connect adapter: the panel inside Jira's Connect iframe. Every API call
   carries a fresh context token from AP.context.getToken() (all.js) and
   goes to the app's own /api with fetch. */
import { startPanel } from "./core.js";
import { startQuota } from "./quota.js";

function getToken() {
  return new Promise(function (resolve, reject) {
    var done = false;
    var r = window.AP.context.getToken(function (t) { if (!done) { done = true; resolve(t); } });
    if (r && typeof r.then === "function") {
      r.then(function (t) { if (!done) { done = true; resolve(t); } }, function (e) {
        if (!done) { done = true; reject({ code: "token_unavailable", message: String((e && e.message) || e) }); }
      });
    }
  });
}

function connectAdapter(root) {
  var apiBase = root.getAttribute("data-api") || "api";
  return {
    kind: "connect",
    unavailable: function () {
      if (window.AP && window.AP.context && typeof window.AP.context.getToken === "function") { return null; }
      return { code: "ap_unavailable", message: "Jira's all.js did not load: open Connect Doctor from Jira's administration menu.", hint: "The panel gets its API tokens from Jira through all.js (AP_JS_URL)." };
    },
    context: function () {
      return { siteUrl: root.getAttribute("data-site") || "", view: root.getAttribute("data-view") || "" };
    },
    call: function (method, path, body) {
      return getToken().then(function (tok) {
        var opts = { method: method, headers: { "Authorization": "JWT " + tok, "Accept": "application/json" }, credentials: "omit" };
        if (body !== undefined) {
          opts.headers["Content-Type"] = "application/json";
          opts.body = JSON.stringify(body);
        }
        return fetch(apiBase + path, opts);
      }).then(function (resp) {
        return resp.text().then(function (text) {
          var json = null;
          try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
          return { status: resp.status, json: json, headers: { "retry-after": resp.headers.get("Retry-After") } };
        });
      });
    },
    resize: function () {
      if (window.AP && typeof window.AP.resize === "function") {
        var h = Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);
        var r = window.AP.resize("100%", h + "px");
        if (r && r.catch) { r.catch(function () {}); }
      }
    }
  };
}

function start() {
  var root = document.getElementById("cd-panel");
  if (root) { var a = connectAdapter(root); startPanel(a); startQuota(a); }
}

if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
