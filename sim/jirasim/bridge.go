package jirasim

// hostJS runs in the simulated Jira page. It answers the AP requests the
// app's iframe posts (only from that iframe's window and the app's origin)
// and sends results back to the app's origin only. Context tokens come from
// the simulator, authorised by the page's nonce.
const hostJS = `(function () {
  "use strict";
  var cfg = window.__jirasim;
  var frame = document.querySelector("iframe.ap-iframe");
  function px(v) { v = String(v); return /^\d+(\.\d+)?$/.test(v) ? v + "px" : v; }
  function token() {
    return fetch(cfg.tokenURL, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ nonce: cfg.nonce })
    }).then(function (r) {
      if (!r.ok) { throw new Error("context token request failed: HTTP " + r.status); }
      return r.json();
    }).then(function (j) { return j.token; });
  }
  window.addEventListener("message", function (ev) {
    if (!frame || ev.source !== frame.contentWindow || ev.origin !== cfg.appOrigin) { return; }
    var m = ev.data;
    if (!m || m.jirasim !== "ap-req") { return; }
    function reply(result, error) {
      ev.source.postMessage({ jirasim: "ap-resp", id: m.id, result: result, error: error }, cfg.appOrigin);
    }
    function done(v) { reply(v === undefined ? null : v, null); }
    function fail(e) { reply(null, String((e && e.message) || e)); }
    var a = m.args || [];
    switch (m.method) {
    case "getToken": token().then(done, fail); break;
    case "resize":
      if (a[0] != null && a[0] !== "") { frame.style.width = px(a[0]); }
      if (a[1] != null && a[1] !== "") { frame.style.height = px(a[1]); }
      done(true); break;
    case "sizeToParent":
      frame.style.width = "100%";
      frame.style.height = Math.max(200, window.innerHeight - frame.getBoundingClientRect().top - 16) + "px";
      done(true); break;
    case "getLocation": done(cfg.pageURL); break;
    case "getCurrentUser": done({ atlassianAccountId: cfg.accountId }); break;
    case "getTimeZone": done(cfg.timeZone); break;
    case "getLocale": done(String(cfg.locale).replace("_", "-")); break;
    case "getContext": done({ license: { active: false }, url: { displayUrl: cfg.siteURL }, jira: {} }); break;
    case "reload": window.location.reload(); done(true); break;
    default: fail("AP." + m.method + " is not supported by the Jira simulator");
    }
  });
  window.__jirasimHostReady = true;
})();
`

// allJS is the AP bridge the app's page loads (point the app's AP_JS_URL at
// <site>/atlassian-connect/all.js). It implements the part of Atlassian's
// AP API the admin panel needs, over postMessage to the host page named by
// the xdm_e parameter: AP.context.getToken (callback and promise forms),
// AP.context.getContext, AP.resize, AP.sizeToParent, AP.getLocation,
// AP.user.getCurrentUser / getTimeZone / getLocale, AP.navigator.reload.
// data-options="resize:false" or "sizeToParent:true" on the script tag
// change the automatic resizing, as with the real all.js.
const allJS = `(function () {
  "use strict";
  if (window.AP && window.AP.__jirasim) { return; }
  var script = document.currentScript;
  var params = new URLSearchParams(window.location.search);
  var host = params.get("xdm_e") || document.referrer || "";
  var hostOrigin = null;
  try { hostOrigin = new URL(host).origin; } catch (e) { hostOrigin = null; }
  var seq = 0, pending = {};
  window.addEventListener("message", function (ev) {
    if (ev.source !== window.parent || ev.origin !== hostOrigin) { return; }
    var m = ev.data;
    if (!m || m.jirasim !== "ap-resp" || !pending[m.id]) { return; }
    var p = pending[m.id];
    delete pending[m.id];
    if (m.error) { p.reject(new Error(m.error)); } else { p.resolve(m.result); }
  });
  function call(method, args) {
    return new Promise(function (resolve, reject) {
      if (!hostOrigin || window.parent === window) {
        reject(new Error("AP: not running inside the Jira host page (no xdm_e)"));
        return;
      }
      var id = ++seq;
      pending[id] = { resolve: resolve, reject: reject };
      window.parent.postMessage({ jirasim: "ap-req", id: id, method: method, args: args || [] }, hostOrigin);
    });
  }
  function withCallback(p, cb) {
    if (typeof cb === "function") {
      p.then(function (v) { cb(v); }, function (e) { if (window.console) { console.error(e); } });
    }
    return p;
  }
  var lastHeight = -1;
  var AP = {
    __jirasim: true,
    resize: function (w, h) { return call("resize", [w, h]); },
    sizeToParent: function () { return call("sizeToParent", []); },
    getLocation: function (cb) { return withCallback(call("getLocation"), cb); },
    context: {
      getToken: function (cb) { return withCallback(call("getToken"), cb); },
      getContext: function (cb) { return withCallback(call("getContext"), cb); }
    },
    user: {
      getCurrentUser: function (cb) { return withCallback(call("getCurrentUser"), cb); },
      getTimeZone: function (cb) { return withCallback(call("getTimeZone"), cb); },
      getLocale: function (cb) { return withCallback(call("getLocale"), cb); }
    },
    navigator: { reload: function () { return call("reload"); } }
  };
  window.AP = AP;
  var opts = (script && script.getAttribute("data-options")) || "";
  function autoresize() {
    var h = Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0);
    if (h !== lastHeight) { lastHeight = h; AP.resize("100%", h).catch(function () {}); }
  }
  function start() {
    if (/sizeToParent\s*:\s*true/.test(opts)) { AP.sizeToParent().catch(function () {}); return; }
    if (/resize\s*:\s*false/.test(opts)) { return; }
    autoresize();
    if (window.ResizeObserver && document.body) { new ResizeObserver(autoresize).observe(document.body); }
  }
  if (document.readyState === "complete") { start(); } else { window.addEventListener("load", start); }
})();
`
