/* Connect Doctor admin panel: the core, shared by the Connect iframe
   (connect.js: AP.js context tokens) and Forge Custom UI (forge.js:
   @forge/bridge invokeRemote). The core never talks HTTP itself: an adapter
   gives it

     call(method, path, body) -> Promise<{status, json, headers}>
         one request to the panel API (path relative to the API root,
         e.g. "/installation"); headers is a plain object with lower-case
         names; a rejection is a transport failure ({code, message, hint}
         or an Error);
     context() -> Promise<{siteUrl, accountId, view}>
         what the host says about the page (any field may be missing);
     resize()   tells the host the content height changed;
     unavailable() -> null or {code, message, hint}
         why the panel cannot talk to its API at all (no AP.js, no bridge);
     kind       "connect" or "forge".

   The DOM is built with textContent only, so nothing Jira or a user
   returns is parsed as HTML. */

export function startPanel(adapter) {
  var root = document.getElementById("cd-panel");
  if (!root) { return; }
  var viewer = { admin: null };

  function resize() {
    try { adapter.resize(); } catch (e) { /* the host may not support resize */ }
  }

  /* ---- API ---------------------------------------------------------- */

  function header(headers, name) {
    if (!headers) { return null; }
    var v = headers[name];
    if (Array.isArray(v)) { v = v.join(","); }
    return v === undefined || v === null || v === "" ? null : String(v);
  }

  // api returns a promise of the decoded JSON; failures reject with the
  // error envelope's inside ({code, message, hint}).
  function api(method, path, body) {
    return Promise.resolve().then(function () { return adapter.call(method, path, body); }).then(function (resp) {
      if (!resp || resp.status < 200 || resp.status > 299) {
        var status = resp ? resp.status : 0;
        var data = resp ? resp.json : null;
        var err = (data && data.error && data.error.code) ? data.error : { code: "http_" + status, message: "The panel's API answered " + status + "." };
        err.status = status;
        err.retryAfter = header(resp && resp.headers, "retry-after");
        throw err;
      }
      return resp.json;
    }, function (e) {
      if (e && e.code) { throw e; }
      throw { code: "network_error", message: "The panel's API could not be reached: " + String((e && e.message) || e) };
    });
  }

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null || v === false) { return; }
        if (k === "text") { e.textContent = String(v); } else if (k === "cls") { e.className = v; } else if (k === "on") {
          Object.keys(v).forEach(function (ev) { e.addEventListener(ev, v[ev]); });
        } else { e.setAttribute(k, v === true ? "" : String(v)); }
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === undefined || c === null || c === false) { continue; }
      if (Array.isArray(c)) { c.forEach(function (x) { if (x) { e.appendChild(typeof x === "string" ? document.createTextNode(x) : x); } }); continue; }
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } return node; }

  function errorBox(err, cls) {
    var box = el("div", { cls: "cd-message " + (cls || "cd-error"), role: "alert", "data-code": err.code || "" },
      el("strong", { text: err.message || "Something went wrong." }),
      el("div", { cls: "cd-mono", text: "code: " + (err.code || "unknown") + (err.retryAfter ? " · retry after " + err.retryAfter + " s" : "") }),
      err.hint ? el("div", { text: err.hint }) : null);
    return box;
  }

  /* ---- shared rendering --------------------------------------------- */

  var badOutcomes = ["scope_missing", "inaccessible", "act_as_user_missing", "token_scope_missing", "oauth_scope_missing"];
  var warnOutcomes = ["needs_admin", "permission_missing", "deprecated", "scopes_unknown"];

  function outcomeLozenge(pred) {
    var cls = "cd-lozenge";
    if (pred.outcome === "allowed") { cls += " cd-ok"; } else if (badOutcomes.indexOf(pred.outcome) >= 0) { cls += " cd-bad"; } else if (warnOutcomes.indexOf(pred.outcome) >= 0) { cls += " cd-warn"; }
    var label = (pred.status ? pred.status + " " : "") + String(pred.outcome || "unknown").replace(/_/g, " ");
    return el("span", { cls: cls, title: pred.reason || "", "data-outcome": pred.outcome }, label);
  }

  function statusLozenge(status) {
    var cls = "cd-lozenge " + (status >= 200 && status < 300 ? "cd-ok" : status >= 400 ? "cd-bad" : status === 0 ? "cd-warn" : "cd-info");
    return el("span", { cls: cls, "data-status": status }, status ? String(status) : "no answer");
  }

  function scopeLozenge(s) { return el("span", { cls: "cd-lozenge" + (s === "INACCESSIBLE" ? " cd-bad" : s === "ADMIN" ? " cd-new" : " cd-info") }, s || "?"); }

  function renderDiagnosis(d) {
    var box = el("div", { cls: "cd-diagnosis", "data-verdict": d.verdict });
    box.appendChild(el("h3", null, "Diagnosis ", el("span", { cls: "cd-lozenge cd-info" }, String(d.verdict || "").replace(/_/g, " "))));
    if (d.summary) { box.appendChild(el("p", { cls: "cd-summary" }, d.summary)); }
    (d.causes || []).forEach(function (c, i) {
      box.appendChild(el("div", { cls: "cd-cause" + (i === 0 ? " cd-top" : ""), "data-cause": c.code },
        el("h4", null, c.title + " ", el("span", { cls: "cd-lozenge" }, c.code), " ", el("span", { cls: "cd-muted", text: Math.round((c.confidence || 0) * 100) + "%" })),
        c.evidence && c.evidence.length ? el("ul", null, c.evidence.map(function (e) { return el("li", null, e); })) : null,
        c.fix ? el("div", { cls: "cd-fix" }, el("strong", { text: "Fix" }), c.fix) : null));
    });
    if (d.notes && d.notes.length) {
      box.appendChild(el("details", null, el("summary", null, "Notes"), el("ul", null, d.notes.map(function (n) { return el("li", null, n); }))));
    }
    return box;
  }

  function prettyBody(text) {
    if (!text) { return ""; }
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  // statedIn reports whether one of the evidence lines already says the
  // first clause of text (spacing and case aside).
  function statedIn(evidence, text) {
    if (!text || !evidence) { return false; }
    var norm = function (x) { return String(x).replace(/\s+/g, "").toLowerCase(); };
    var clause = norm(String(text).split(";")[0]);
    return clause.length > 0 && evidence.some(function (e) { return norm(e).indexOf(clause) >= 0; });
  }

  function renderCheck(r) {
    var box = el("div", { cls: "cd-check", "data-status": r.response.status, "data-id": r.id || "" });
    box.appendChild(el("p", null, statusLozenge(r.response.status), " ",
      el("code", null, r.request.method + " " + r.request.path), " as ", r.request.as === "user" ? "you" : "the app",
      " · ", el("span", { cls: "cd-duration" }, r.response.durationMs + " ms"),
      r.createdAt ? el("span", { cls: "cd-muted" }, " · " + r.createdAt) : null,
      r.stored === false ? el("span", { cls: "cd-muted" }, " · not saved in the history") : null));
    if (r.failure) { box.appendChild(errorBox(r.failure, "cd-warning")); }
    var pf = r.preflight || {};
    // Each fact once: when the diagnosis's top cause already states the
    // prediction's reason, the prediction keeps only its verdict.
    var top = r.diagnosis && r.diagnosis.causes && r.diagnosis.causes[0];
    var stated = top && top.fix && statedIn(top.evidence, pf.reason);
    box.appendChild(el("h3", null, "Preflight prediction"));
    box.appendChild(el("p", { cls: "cd-preflight", "data-stated": stated ? "diagnosis" : null }, outcomeLozenge(pf), " ",
      stated ? el("span", { cls: "cd-muted" }, "as the diagnosis below explains") : pf.reason || "",
      pf.fix && !stated ? el("div", { cls: "cd-fix" }, el("strong", { text: "Fix" }), pf.fix) : null));
    if (r.diagnosis) { box.appendChild(renderDiagnosis(r.diagnosis)); }
    var resp = r.response || {};
    var hdrs = resp.headers || {};
    var details = el("details", { open: resp.status >= 400 ? true : null }, el("summary", null, "Response" + (resp.bodyTruncated ? " (body trimmed)" : "")));
    var dl = el("dl", { cls: "cd-facts" });
    Object.keys(hdrs).forEach(function (k) { dl.appendChild(el("dt", null, k)); dl.appendChild(el("dd", { cls: "cd-mono" }, hdrs[k])); });
    details.appendChild(dl);
    details.appendChild(el("pre", { cls: "cd-body" }, prettyBody(resp.body)));
    box.appendChild(details);
    return box;
  }

  /* ---- 1. Installation ---------------------------------------------- */

  function fact(dl, name, value, extra) {
    if (value === undefined || value === null || value === "") { return; }
    dl.appendChild(el("dt", null, name));
    dl.appendChild(el("dd", null, String(value), extra || null));
  }

  function loadInstallation() {
    return api("GET", "/installation").then(function (inst) {
      var dl = clear($("installation-facts"));
      fact(dl, "Site", inst.baseUrl);
      fact(dl, "Display URL", inst.displayUrl);
      var copy = el("button", { type: "button", cls: "cd-button cd-small cd-copy", on: { click: function () {
        var done = function () { copy.textContent = "Copied"; };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(inst.clientKey).then(done, function () { selectText(ck); });
        } else { selectText(ck); }
      } } }, "Copy");
      var ck = el("code", { id: "installation-client-key" }, inst.clientKey);
      dl.appendChild(el("dt", null, adapter.kind === "forge" ? "Installation ID" : "clientKey"));
      dl.appendChild(el("dd", null, ck, copy));
      fact(dl, "State", inst.state);
      fact(dl, "App", inst.appKey + " " + inst.version);
      if (inst.forge && inst.reachableOperations < 0) {
        fact(dl, "Reachable operations", "unknown until an upgrade event names the granted OAuth scopes");
      } else {
        fact(dl, "Reachable operations", inst.reachableOperations + " of " + inst.catalogOperations + " in the catalog" + (inst.forge ? " (by the granted OAuth scopes)" : ""));
      }
      if (inst.forge && inst.oauthScopes) { fact(dl, "Granted OAuth scopes", inst.oauthScopes.join(", ")); }
      if (inst.viewer.accountId) {
        // The display name from Jira's user API, the accountId on hover
        // (and in place of the name when Jira could not tell it).
        dl.appendChild(el("dt", null, "Viewing as"));
        dl.appendChild(el("dd", null, el("span", { id: "viewer-name", title: inst.viewer.accountId, "data-account-id": inst.viewer.accountId },
          inst.viewer.displayName || inst.viewer.accountId),
          inst.viewer.admin ? " (Jira administrator)" : inst.viewer.admin === false ? " (not a Jira administrator)" : ""));
      }
      var d = inst.details;
      if (d) {
        fact(dl, "Installed", d.installedAt);
        fact(dl, "Updated", d.updatedAt);
        fact(dl, "Cloud ID", d.cloudId);
        if (d.installationId !== inst.clientKey) { fact(dl, "Installation ID", d.installationId); }
        fact(dl, "OAuth client ID", d.oauthClientId);
        fact(dl, "SEN", d.serviceEntitlementNumber);
        fact(dl, "Description", d.description);
      }
      var tb = clear($("installation-scopes").querySelector("tbody"));
      // One row per scope counted (declared, implied by a declared one,
      // and NONE), adding up to the reachable total; a row opens the
      // explorer on the operations it counts.
      var total = 0;
      (inst.scopes || []).forEach(function (s) {
        total += s.operations;
        var show = function () { showScope(s.scope); };
        tb.appendChild(el("tr", { cls: "cd-clickable", "data-scope": s.scope, "data-source": s.source, tabindex: 0, title: "List the " + s.operations + " operations in the explorer",
          on: { click: show, keydown: function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); show(); } } } },
          el("td", null, scopeLozenge(s.scope)), el("td", null, el("a", { href: "#explorer", cls: "cd-count" }, String(s.operations))),
          el("td", { cls: "cd-muted" }, [s.source, s.note].filter(Boolean).join(": "))));
      });
      if ((inst.scopes || []).length) {
        tb.appendChild(el("tr", { cls: "cd-total", "data-total": total }, el("td", null, inst.forge ? "By these Connect scopes" : "Reachable"),
          el("td", null, total + " of " + inst.catalogOperations), el("td", { cls: "cd-muted" }, "operations in the catalog")));
      }
      if (!(inst.scopes || []).length) {
        tb.appendChild(el("tr", { "data-empty": "true" }, el("td", { colspan: 3, cls: "cd-muted" }, adapter.kind === "forge" ?
          "No Connect scopes: on Forge, the app's tokens carry the OAuth 2.0 scopes of manifest.yml (permissions.scopes) that the site admin approved." :
          "The installed descriptor declares no scopes: the app can call only anonymous operations.")));
      }
      viewer.admin = inst.viewer.admin;
      var ref = $("installation-refusal");
      if (inst.viewer.refusal) {
        var box = errorBox(inst.viewer.refusal, "cd-warning");
        // Exactly what is hidden and what is not.
        if ((inst.viewer.hidden || []).length) {
          box.appendChild(el("div", { cls: "cd-parts", id: "viewer-hidden" }, el("strong", { text: "Hidden from you: " }), inst.viewer.hidden.join("; ") + "."));
        }
        if ((inst.viewer.available || []).length) {
          box.appendChild(el("div", { cls: "cd-parts", id: "viewer-available" }, el("strong", { text: "Still available to you: " }), inst.viewer.available.join("; ") + "."));
        }
        clear(ref).appendChild(box);
        ref.setAttribute("data-code", inst.viewer.refusal.code);
        ref.hidden = false;
      } else { ref.hidden = true; }
      if (inst.viewer.admin === false) {
        var appRadio = document.querySelector("#check-form input[name=as][value=app]");
        appRadio.disabled = true;
        document.querySelector("#check-form input[name=as][value=user]").checked = true;
        appRadio.parentNode.title = "Checks as the app need Administer Jira";
      }
      resize();
    }, function (err) { clear($("installation-refusal")).appendChild(errorBox(err)); $("installation-refusal").hidden = false; resize(); });
  }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  /* ---- 2. Endpoint explorer ----------------------------------------- */

  // showScope lists the operations a scope table row counts.
  function showScope(scope) {
    var f = $("explorer-form");
    f.q.value = "";
    f.permission.value = "";
    f.scope.value = scope;
    searchEndpoints(false).then(function () { $("explorer").scrollIntoView(); });
  }

  var explorerCursor = "";
  var knownOps = {};

  function searchEndpoints(more) {
    var f = $("explorer-form");
    var q = "?limit=25&q=" + encodeURIComponent(f.q.value) + "&scope=" + encodeURIComponent(f.scope.value) + "&permission=" + encodeURIComponent(f.permission.value);
    if (more && explorerCursor) { q += "&cursor=" + encodeURIComponent(explorerCursor); }
    var tb = $("explorer-table").querySelector("tbody");
    if (!more) { clear(tb); }
    return api("GET", "/endpoints" + q).then(function (page) {
      $("explorer-table").setAttribute("data-scope", f.scope.value);
      $("explorer-count").textContent = page.total + " operation" + (page.total === 1 ? "" : "s") + " · declared scopes: " + (page.declaredScopes || []).join(", ");
      var dl = $("check-ops");
      page.items.forEach(function (op) {
        knownOps[op.operationId] = op;
        if (!dl.querySelector("option[value=\"" + op.operationId.replace(/["\\]/g, "") + "\"]")) { dl.appendChild(el("option", { value: op.operationId })); }
        var detail = el("tr", { cls: "cd-detail", hidden: true }, el("td", { colspan: 6 },
          el("div", null, el("strong", { text: "As the app: " }), op.asApp.reason, op.asApp.fix ? " Fix: " + op.asApp.fix : ""),
          el("div", null, el("strong", { text: "As you: " }), op.asViewer.reason, op.asViewer.fix ? " Fix: " + op.asViewer.fix : ""),
          op.permissionDetail ? el("div", { cls: "cd-muted" }, "Permission detail: " + op.permissionDetail) : null));
        var row = el("tr", { "data-operation": op.operationId },
          el("td", null, el("span", { cls: "cd-lozenge" }, op.method), " ", el("code", null, op.path), el("div", { cls: "cd-muted" }, op.operationId, op.deprecated ? " · deprecated" : "")),
          el("td", null, scopeLozenge(op.connectScope)),
          el("td", null, op.permission),
          el("td", null, outcomeLozenge(op.asApp)),
          el("td", null, outcomeLozenge(op.asViewer)),
          el("td", null,
            el("button", { type: "button", cls: "cd-button cd-small", on: { click: function () { detail.hidden = !detail.hidden; resize(); } } }, "Why"),
            el("button", { type: "button", cls: "cd-button cd-small", on: { click: function () { pickOperation(op); } } }, "Check")));
        tb.appendChild(row);
        tb.appendChild(detail);
      });
      explorerCursor = page.nextCursor || "";
      $("explorer-more").hidden = !explorerCursor;
      resize();
    }, function (err) { clear(tb).appendChild(el("tr", null, el("td", { colspan: 6 }, errorBox(err)))); resize(); });
  }

  /* ---- 3. Run a check ----------------------------------------------- */

  function pickOperation(op) {
    var f = $("check-form");
    f.method.value = op.method;
    f.path.value = op.path;
    f.operation.value = op.operationId;
    updateParams();
    location.hash = "#check";
    f.path.focus();
  }

  function templateParams(path) {
    var out = [];
    path.split("?")[0].replace(/\{([^{}\/]+)\}/g, function (_, name) { if (out.indexOf(name) < 0) { out.push(name); } return ""; });
    return out;
  }

  function updateParams() {
    var f = $("check-form");
    var box = $("check-params");
    var names = templateParams(f.path.value);
    var old = {};
    Array.prototype.forEach.call(box.querySelectorAll("input"), function (i) { old[i.name] = i.value; });
    clear(box);
    names.forEach(function (n) {
      box.appendChild(el("label", null, n, el("input", { type: "text", name: n, value: old[n] || "", required: true, "data-param": n, placeholder: "value for {" + n + "}" })));
    });
    var m = f.method.value;
    $("check-body-label").hidden = m === "GET" || m === "HEAD";
    resize();
  }

  function runCheck(ev) {
    ev.preventDefault();
    var f = $("check-form");
    var out = $("check-result");
    var path = f.path.value.trim();
    var missing = [];
    templateParams(path).forEach(function (n) {
      var input = $("check-params").querySelector("input[data-param=\"" + n + "\"]");
      var v = input ? input.value.trim() : "";
      if (!v) { missing.push(n); return; }
      path = path.split("{" + n + "}").join(encodeURIComponent(v));
    });
    if (missing.length) {
      clear(out).appendChild(errorBox({ code: "missing_parameter", message: "Fill in the path parameters: " + missing.join(", ") + "." }));
      resize();
      return;
    }
    var body;
    var method = f.method.value;
    if (method !== "GET" && method !== "HEAD" && f.body.value.trim()) {
      try { body = JSON.parse(f.body.value); } catch (e) {
        clear(out).appendChild(errorBox({ code: "invalid_json", message: "The body is not valid JSON: " + e.message }));
        resize();
        return;
      }
    }
    var as = f.querySelector("input[name=as]:checked").value;
    var req = { method: method, path: path, as: as };
    if (body !== undefined) { req.body = body; }
    $("check-run").disabled = true;
    out.setAttribute("data-state", "running");
    clear(out).appendChild(el("p", { cls: "cd-muted" }, "Calling Jira…"));
    api("POST", "/checks", req).then(function (r) {
      clear(out).appendChild(renderCheck(r));
      out.setAttribute("data-state", "done");
      if (viewer.admin) { loadHistory(false); }
    }, function (err) {
      clear(out).appendChild(errorBox(err));
      out.setAttribute("data-state", "error");
    }).then(function () { $("check-run").disabled = false; resize(); });
  }

  function onOperationChosen() {
    var f = $("check-form");
    var id = f.operation.value.trim();
    if (!id) { return; }
    if (knownOps[id]) { pickOperation(knownOps[id]); return; }
    api("GET", "/endpoints/" + encodeURIComponent(id)).then(pickOperation, function () { /* free text: ignore */ });
  }

  /* ---- 4. Explain a response ---------------------------------------- */

  function explainResponse(ev) {
    ev.preventDefault();
    var out = $("explain-result");
    clear(out).appendChild(el("p", { cls: "cd-muted" }, "Explaining…"));
    api("POST", "/explain", { raw: $("explain-form").raw.value }).then(function (d) {
      clear(out).appendChild(el("p", null, statusLozenge(d.status), d.request ? el("code", null, " " + d.request) : null));
      out.appendChild(renderDiagnosis(d));
    }, function (err) { clear(out).appendChild(errorBox(err)); }).then(resize);
  }

  /* ---- 5. History --------------------------------------------------- */

  var historyCursor = "";

  function loadHistory(more) {
    var tb = $("history-table").querySelector("tbody");
    var q = "?limit=10" + (more && historyCursor ? "&cursor=" + encodeURIComponent(historyCursor) : "");
    return api("GET", "/checks" + q).then(function (page) {
      if (!more) { clear(tb); }
      $("history-message").hidden = true;
      if (!page.items.length && !more) {
        tb.appendChild(el("tr", null, el("td", { colspan: 6, cls: "cd-muted" }, "No checks yet.")));
      }
      page.items.forEach(function (c) {
        tb.appendChild(el("tr", { "data-id": c.id },
          el("td", { cls: "cd-muted" }, c.createdAt),
          el("td", null, el("code", null, c.method + " " + c.path)),
          el("td", null, c.as === "user" ? "user" : "app"),
          el("td", null, statusLozenge(c.status)),
          el("td", { title: c.summary || "" }, c.cause || ""),
          el("td", null, el("button", { type: "button", cls: "cd-button cd-small", on: { click: function () { openCheck(c.id); } } }, "Open"))));
      });
      historyCursor = page.nextCursor || "";
      $("history-more").hidden = !historyCursor;
      resize();
    }, function (err) {
      var m = $("history-message");
      clear(m).appendChild(errorBox(err, err.code === "not_jira_admin" ? "cd-warning" : "cd-error"));
      m.setAttribute("data-code", err.code || "");
      m.hidden = false;
      $("history-table").hidden = err.code === "not_jira_admin";
      resize();
    });
  }

  function openCheck(id) {
    var out = $("check-result");
    api("GET", "/checks/" + encodeURIComponent(id)).then(function (r) {
      clear(out).appendChild(renderCheck(r));
      out.setAttribute("data-state", "done");
      location.hash = "#check";
    }, function (err) { clear(out).appendChild(errorBox(err)); }).then(resize);
  }

  /* ---- 6. Scope advisor --------------------------------------------- */

  function advise(ev) {
    ev.preventDefault();
    var out = $("advisor-result");
    var ops = $("advisor-form").operations.value.split("\n").map(function (l) { return l.trim(); }).filter(function (l) { return l && l[0] !== "#"; });
    api("POST", "/scopes/advice", { operations: ops }).then(function (a) {
      clear(out);
      out.appendChild(el("p", null, el("strong", { text: "Minimal scopes: " }), (a.scopes || []).length ? a.scopes.map(scopeLozenge) : "none needed"));
      out.appendChild(el("p", null, "Declared today: ", (a.declaredScopes || []).join(", ") || "none",
        a.missingFromDeclared.length ? el("span", { cls: "cd-lozenge cd-bad" }, "missing " + a.missingFromDeclared.join(", ")) : el("span", { cls: "cd-lozenge cd-ok" }, "enough")));
      if ((a.operations || []).length) {
        out.appendChild(el("table", { cls: "cd-table" },
          el("thead", null, el("tr", null, el("th", null, "Input"), el("th", null, "Operation"), el("th", null, "Scope"), el("th", null, "Permission"))),
          el("tbody", null, a.operations.map(function (o) {
            return el("tr", null, el("td", null, el("code", null, o.input)), el("td", null, el("code", null, o.method + " " + o.template), el("div", { cls: "cd-muted" }, o.operationId)),
              el("td", null, scopeLozenge(o.requiredScope)), el("td", null, o.permission));
          }))));
      }
      if ((a.inaccessible || []).length) {
        out.appendChild(el("div", { cls: "cd-message cd-error" }, el("strong", { text: "No Connect scope reaches these operations:" }),
          el("ul", null, a.inaccessible.map(function (o) { return el("li", null, el("code", null, o.method + " " + o.template)); }))));
      }
      if ((a.unknown || []).length) {
        out.appendChild(el("div", { cls: "cd-message cd-warning" }, el("strong", { text: "Not in the catalog:" }),
          el("ul", null, a.unknown.map(function (u) { return el("li", null, el("code", null, u.input), " ", u.reason); }))));
      }
    }, function (err) { clear(out).appendChild(errorBox(err)); }).then(resize);
  }

  /* ---- start -------------------------------------------------------- */

  $("explorer-form").addEventListener("submit", function (ev) { ev.preventDefault(); searchEndpoints(false); });
  $("explorer-more").addEventListener("click", function () { searchEndpoints(true); });
  $("check-form").addEventListener("submit", runCheck);
  $("check-form").path.addEventListener("input", updateParams);
  $("check-form").method.addEventListener("change", updateParams);
  $("check-form").operation.addEventListener("change", onOperationChosen);
  $("explain-form").addEventListener("submit", explainResponse);
  $("history-more").addEventListener("click", function () { loadHistory(true); });
  $("advisor-form").addEventListener("submit", advise);
  root.setAttribute("data-host", adapter.kind);
  updateParams();

  var down = adapter.unavailable();
  if (down) {
    var st = $("cd-status");
    clear(st).appendChild(errorBox(down));
    st.setAttribute("data-code", down.code || "");
    st.hidden = false;
    return;
  }
  var ctx = Promise.resolve().then(adapter.context).then(function (c) { return c || {}; }, function () { return {}; });
  ctx.then(function (c) {
    // The site, until the installation answer names it.
    var dl = $("installation-facts");
    if (c.siteUrl && !dl.querySelector("dd:not(:empty)")) { clear(dl); fact(dl, "Site", c.siteUrl); }
  });
  Promise.all([loadInstallation(), searchEndpoints(false), loadHistory(false), ctx]).then(function (all) {
    root.setAttribute("data-ready", "true");
    var view = all[3].view;
    if (view && $(view)) { $(view).scrollIntoView(); }
    resize();
  });
}
