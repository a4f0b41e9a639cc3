package forgesim

// bridgeRuntime is injected into the Custom UI resource's index.html before
// the app's scripts. It defines window.__bridge.callBridge, the global
// @forge/bridge looks up when its modules load (out/bridge.js
// getCallBridge), and answers the calls the simulator supports; it also
// reports the content height to the host page, which sizes the iframe.
const bridgeRuntime = `/* forgesim Custom UI bridge runtime (not Atlassian code). */
(function () {
  "use strict";
  var m = /^\/cdn\/([0-9a-f]+)\//.exec(location.pathname);
  var base = m ? "/cdn/" + m[1] + "/__forgesim/" : "";

  function post(what, body) {
    return fetch(base + what, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) { throw new Error((j && j.error && j.error.message) || ("forgesim: bridge answered " + r.status)); }
        return j;
      });
    });
  }

  // requestRemote: the browser calls the remote directly with a FIT and
  // no OAuth token; the answer is the bridge's fetch shape.
  function fetchRemote(p) {
    var init = (p && p.fetchRequestInit) || {};
    var method = (init.method || "GET").toUpperCase();
    var path = init.path || "/";
    return post("fit", { remoteKey: p && p.remoteKey, method: method, path: path }).then(function (t) {
      var headers = new Headers(init.headers || []);
      headers.set("Authorization", "Bearer " + t.fit);
      var opts = { method: method, headers: headers, credentials: "omit", mode: "cors" };
      if (method !== "GET" && method !== "HEAD" && init.body !== undefined && init.body !== null) { opts.body = init.body; }
      return fetch(t.url + path, opts);
    }).then(function (resp) {
      return resp.text().then(function (text) {
        var h = {};
        resp.headers.forEach(function (v, k) { h[k] = v; });
        return { body: text, headers: h, status: resp.status, statusText: resp.statusText, isAttachment: false };
      });
    });
  }

  function callBridge(name, payload) {
    switch (name) {
      case "getContext":
      case "invoke":
        return post("bridge", { name: name, payload: payload === undefined ? null : payload }).then(function (j) { return j.result; });
      case "fetchRemote":
        return fetchRemote(payload);
      case "emitReadyEvent":
        return Promise.resolve();
      default:
        return post("bridge", { name: name, payload: null }).then(function (j) { return j.result; });
    }
  }

  Object.defineProperty(window, "__bridge", { value: Object.freeze({ callBridge: callBridge }), writable: false, configurable: false });

  // Resize: tell the host page the content height, as Forge's iframe
  // resizer does.
  var last = -1;
  function report() {
    var h = Math.ceil(Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0));
    if (h !== last && window.parent !== window) {
      last = h;
      window.parent.postMessage({ forgesim: "resize", height: h }, location.origin);
    }
  }
  if (typeof ResizeObserver === "function") { new ResizeObserver(report).observe(document.documentElement); }
  window.addEventListener("load", report);
})();
`

// hostScript sizes the Custom UI iframe to what its runtime reports.
const hostScript = `(function () {
  "use strict";
  window.addEventListener("message", function (ev) {
    if (ev.origin !== location.origin || !ev.data || ev.data.forgesim !== "resize") { return; }
    var frames = document.querySelectorAll("iframe.forge-iframe");
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === ev.source) {
        var h = Math.max(200, Math.min(20000, Number(ev.data.height) || 0));
        frames[i].style.height = h + "px";
        frames[i].setAttribute("data-height", String(h));
      }
    }
  });
})();
`

// hostStyle is a Jira-like frame around the module.
const hostStyle = `* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.43 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; color: #172b4d; background: #fff; }
.fs-top { display: flex; gap: 16px; align-items: center; height: 48px; padding: 0 16px; background: #0747a6; color: #fff; }
.fs-site { opacity: .85; }
.fs-user { margin-left: auto; font-size: 12px; opacity: .85; }
.fs-body { display: flex; min-height: calc(100vh - 48px); }
.fs-side { width: 200px; padding: 16px; background: #f4f5f7; border-right: 1px solid #dfe1e6; }
.fs-side-h { margin: 0 0 8px; font-size: 11px; font-weight: 600; text-transform: uppercase; color: #5e6c84; }
.fs-side a { display: block; padding: 4px 8px; border-radius: 3px; background: #deebff; color: #0052cc; text-decoration: none; }
.fs-main { flex: 1; padding: 16px 24px; min-width: 0; }
.fs-main h1 { margin: 0 0 12px; font-size: 24px; font-weight: 500; }
.forge-iframe { display: block; width: 100%; height: 600px; border: 0; }
`
