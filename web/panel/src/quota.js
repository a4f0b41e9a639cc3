/* Connect Doctor admin panel: the "Rate limits" section (issue 17). It
   shows the tenant's points quota as this instance sees it, from
   GET /api/quota: the window and its reset, what Jira's last quota headers
   said, this instance's lease of the shared budget, the pauses in force
   (by reason and scope) and the busiest endpoints. Kept out of core.js:
   it only needs the adapter's call() and resize(). The DOM is built with
   textContent only. */

function el(tag, attrs) {
  var n = document.createElement(tag);
  if (attrs) {
    Object.keys(attrs).forEach(function (k) {
      if (k === "text") { n.textContent = attrs[k]; } else if (k === "cls") { n.className = attrs[k]; } else { n.setAttribute(k, attrs[k]); }
    });
  }
  for (var i = 2; i < arguments.length; i++) {
    var c = arguments[i];
    if (c === null || c === undefined) { continue; }
    (Array.isArray(c) ? c : [c]).forEach(function (x) {
      n.appendChild(typeof x === "string" ? document.createTextNode(x) : x);
    });
  }
  return n;
}

function clear(n) { while (n.firstChild) { n.removeChild(n.firstChild); } return n; }

function when(iso) {
  var d = new Date(iso);
  return isNaN(d.getTime()) ? String(iso) : d.toISOString().replace(".000Z", "Z");
}

function num(n) { return Number(n).toLocaleString("en-US"); }

// What to do about each reason (the explainer's advice, short).
var advice = {
  "jira-quota-global-based": "The app's hourly pool is spent: every tenant waits for the reset.",
  "jira-quota-tenant-based": "This site's hourly quota is spent: its calls wait for the reset.",
  "jira-burst-based": "Too many calls to one endpoint per second: it is paced, other endpoints continue.",
  "jira-per-issue-on-write": "Too many writes to one issue: writes to it are spaced, other calls continue.",
  "local-budget-share": "This site used its fair share of the app's pool; it borrows again when others leave capacity idle.",
  "gateway": "The gateway refused without saying why: a short pause with backoff."
};

function factRow(dl, name, value) {
  dl.appendChild(el("dt", { text: name }));
  dl.appendChild(el("dd", { text: value }));
}

export function startQuota(adapter) {
  var root = document.getElementById("cd-panel");
  if (!root || document.getElementById("quota")) { return; }
  var nav = root.querySelector(".cd-nav");
  if (nav) { nav.appendChild(el("a", { href: "#quota", text: "Rate limits" })); }
  var facts = el("dl", { id: "quota-facts", cls: "cd-facts" });
  var paused = el("div", { id: "quota-paused" });
  var body = el("tbody");
  var refresh = el("button", { type: "button", id: "quota-refresh", cls: "cd-button", text: "Refresh" });
  var section = el("section", { id: "quota", cls: "cd-section", "aria-labelledby": "quota-h", "data-state": "loading" },
    el("h2", { id: "quota-h", text: "Rate limits" }),
    el("p", { cls: "cd-muted", text: "Atlassian's points-based quotas as this instance of the app sees them: the hourly window, Jira's last quota headers, this instance's lease of the budget shared by all instances, and the pauses 429s imposed." }),
    facts,
    el("h3", { text: "Paused" }),
    paused,
    el("h3", { text: "Busiest endpoints this window" }),
    el("table", { cls: "cd-table", id: "quota-busiest" },
      el("thead", null, el("tr", null, el("th", { scope: "col", text: "Endpoint" }), el("th", { scope: "col", text: "Calls" }), el("th", { scope: "col", text: "Estimated points" }))),
      body),
    el("p", null, refresh));
  root.appendChild(section);

  function show(q) {
    clear(facts);
    factRow(facts, "Window resets at", when(q.resetsAt));
    if (q.policy) {
      var jira = q.policy + ": " + (q.quota >= 0 ? num(q.quota) + " points per window" : "quota not given");
      jira += q.remaining >= 0 ? ", " + num(q.remaining) + " left" : " (Jira reports what is left only above 80% use)";
      if (q.beta) { jira += " — Beta: reported, not yet enforced for this app"; }
      factRow(facts, "Jira's quota", jira);
    } else {
      factRow(facts, "Jira's quota", "no quota headers seen yet this window");
    }
    factRow(facts, "This instance's lease", num(q.spentPoints) + " points spent of " + num(q.leasedPoints) + " leased (" + num(q.unusedPoints) + " unused)");
    if (q.shareSpentUntil) { factRow(facts, "Fair share", "spent: calls refused until " + when(q.shareSpentUntil)); }
    clear(paused);
    if (!q.paused || q.paused.length === 0) {
      paused.appendChild(el("p", { cls: "cd-muted", "data-paused": "0", text: "No pause in force: calls go out." }));
    } else {
      paused.appendChild(el("ul", { "data-paused": String(q.paused.length) }, q.paused.map(function (p) {
        return el("li", { "data-reason": p.reason, "data-scope": p.scope },
          el("strong", { text: p.scope + (p.target ? " " + p.target : "") }), " paused until " + when(p.until) + " by ",
          el("code", { text: p.reason }), advice[p.reason] ? " — " + advice[p.reason] : "");
      })));
    }
    clear(body);
    (q.busiestEndpoints || []).forEach(function (u) {
      body.appendChild(el("tr", null, el("td", null, el("code", { text: u.endpoint })), el("td", { text: num(u.calls) }), el("td", { text: num(u.points) })));
    });
    if (!body.firstChild) { body.appendChild(el("tr", null, el("td", { colspan: "3", cls: "cd-muted", text: "No calls this window." }))); }
  }

  function load() {
    section.setAttribute("data-state", "loading");
    return Promise.resolve().then(function () { return adapter.call("GET", "/quota"); }).then(function (resp) {
      if (!resp || resp.status !== 200) {
        var e = resp && resp.json && resp.json.error;
        throw e || { message: "The panel's API answered " + (resp ? resp.status : 0) + "." };
      }
      show(resp.json || {});
      section.setAttribute("data-state", "done");
    }).catch(function (e) {
      clear(facts);
      clear(paused).appendChild(el("div", { cls: "cd-message cd-error", role: "alert", "data-code": (e && e.code) || "",
        text: (e && e.message) || String(e) }));
      section.setAttribute("data-state", "error");
    }).then(function () { try { adapter.resize(); } catch (x) { /* host without resize */ } });
  }

  refresh.addEventListener("click", load);
  if (adapter.unavailable && adapter.unavailable()) { return; }
  load();
}
