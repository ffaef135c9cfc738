/* civility moderator console. Everything a comment contains is shown with textContent. */
(function () {
  "use strict";

  var API = "/api/v1";
  var TOKEN_KEY = "civility:moderator-token";
  var REFRESH_MS = 5000;
  var $ = function (id) { return document.getElementById(id); };
  var state = {status: "flagged", items: {}, order: [], cursor: null, selected: null, busy: 0, timer: null, seq: 0, session: 0};
  var parents = {};

  function h(tag, props, kids) {
    var el = document.createElement(tag);
    for (var k in props || {}) {
      var v = props[k];
      if (v == null || v === false) continue;
      if (k === "text") el.textContent = v;
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else if (k === "className" || k === "type" || k === "value" || k === "hidden" || k === "checked") el[k] = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    (kids || []).forEach(function (c) { if (c != null) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return el;
  }
  function token() { try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; } }
  function when(iso) { return iso ? new Date(iso).toLocaleString() : ""; }
  function notice(msg) { $("notice").textContent = msg; }

  function ApiError(message, status, details) { this.message = message; this.status = status; this.details = details || {}; }
  function api(method, path, body, tok) {
    var headers = {Authorization: "Bearer " + (tok || token())};
    var opts = {method: method, headers: headers, credentials: "omit", cache: "no-store"};
    if (body !== undefined) { headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(API + path, opts).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (data) {
        if (r.ok) return data;
        var err = (data && data.error) || {};
        if (r.status === 401 && !tok) signOut("Your session ended or the token was revoked. Please sign in again.");
        var msg = r.status === 429 ? "Too many requests; please wait a moment." :
          r.status === 503 ? "The service is temporarily unavailable; please retry shortly." :
          err.message || ("Request failed (" + r.status + ")");
        throw new ApiError(msg, r.status, err.details);
      });
    }, function () { throw new ApiError("Cannot reach the server. Check your connection.", 0); });
  }

  // -- sign-in ---------------------------------------------------------------------------------
  function signIn() {
    $("signin").hidden = true;
    $("app").hidden = false;
    $("who").hidden = false;
    scorerAt = 0; // refresh asks for the scorer at once
    refresh(true);
  }
  function signOut(msg) {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* nothing stored */ }
    clearTimeout(state.timer);
    // Answers still on their way belong to the old session: they must not repaint the sign-in screen.
    state.session++; state.seq++;
    $("app").hidden = true;
    $("who").hidden = true;
    $("scorer-banner").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = msg || "";
    $("queue").textContent = "";
    resetLists();
    state.items = {}; state.order = []; state.selected = null;
    $("token").focus();
  }
  $("signin-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var tok = $("token").value.trim();
    if (!tok) { $("signin-error").textContent = "Please paste your token."; return; }
    api("GET", "/moderation/queue?limit=1", undefined, tok).then(function () {
      try { sessionStorage.setItem(TOKEN_KEY, tok); } catch (err) { /* session only */ }
      $("token").value = "";
      $("signin-error").textContent = "";
      signIn();
    }, function (err) {
      $("signin-error").textContent = err.status === 401 ? "That token was not accepted. Check it and try again." : err.message;
    });
  });
  $("signout").addEventListener("click", function () { signOut(""); });

  // -- the queue -------------------------------------------------------------------------------
  function query(extra) {
    var p = new URLSearchParams({status: state.status, sort: $("f-sort").value});
    if ($("f-article").value.trim()) p.set("article_id", $("f-article").value.trim());
    if ($("f-label").value) p.set("label", $("f-label").value);
    for (var k in extra || {}) p.set(k, extra[k]);
    return "/moderation/queue?" + p;
  }

  // Reload the first page(s) and reconcile by id, so typed reasons, open panels and focus survive.
  function refresh(resetSelection) {
    clearTimeout(state.timer);
    if (!token()) return Promise.resolve();
    showScorer(false);
    var limit = Math.min(100, Math.max(50, state.order.length)), seq = ++state.seq;
    return api("GET", query({limit: limit})).then(function (page) {
      if (seq !== state.seq) return; // a newer refresh (another tab or filter) is on its way
      showCounts(page.counts);
      var ids = page.items.map(function (it) { return it.id; });
      state.order.filter(function (id) { return ids.indexOf(id) < 0; }).forEach(function (id) { drop(id); });
      page.items.forEach(function (it) { upsert(it); });
      var list = $("queue"), same = ids.every(function (id, i) { return list.children[i] === state.items[id].li; });
      if (!same) {
        var focused = document.activeElement;
        ids.forEach(function (id) { list.appendChild(state.items[id].li); });
        if (focused && focused !== document.activeElement && list.contains(focused)) focused.focus();
      }
      state.order = ids;
      state.cursor = page.next_cursor;
      $("more").hidden = !page.next_cursor;
      $("empty").hidden = ids.length > 0;
      if (resetSelection || state.selected == null || !state.items[state.selected]) select(ids[0], false);
      $("refreshed").textContent = "Updated " + new Date().toLocaleTimeString();
      updateBulk();
    }, function (err) { if (err.status !== 401 && seq === state.seq) notice(err.message); }).then(schedule);
  }
  function schedule() {
    clearTimeout(state.timer);
    if (token()) state.timer = setTimeout(function () {
      if (document.hidden || state.busy) schedule(); else refresh(false);
    }, REFRESH_MS);
  }
  function loadMore() {
    if (!state.cursor) return;
    var seq = state.seq;
    api("GET", query({limit: 50, cursor: state.cursor})).then(function (page) {
      if (seq !== state.seq) return;
      page.items.forEach(function (it) {
        if (state.items[it.id]) return;
        upsert(it);
        $("queue").appendChild(state.items[it.id].li);
        state.order.push(it.id);
      });
      state.cursor = page.next_cursor;
      $("more").hidden = !page.next_cursor;
    }, function (err) { notice(err.message); });
  }
  function showCounts(counts) {
    [].forEach.call(document.querySelectorAll("[data-count]"), function (el) {
      el.textContent = String((counts || {})[el.getAttribute("data-count")] || 0);
    });
  }

  function drop(id) {
    var node = state.items[id];
    if (!node) return;
    node.li.remove();
    delete state.items[id];
    state.order = state.order.filter(function (x) { return x !== id; });
    if (state.selected === id) state.selected = null;
  }

  function upsert(it) {
    var node = state.items[it.id];
    if (!node) node = state.items[it.id] = build(it);
    node.item = it;
    node.fill(it);
    return node;
  }

  function build(it) {
    var id = it.id;
    var check = h("input", {type: "checkbox", className: "pick", "aria-label": "Select comment #" + id, onchange: updateBulk});
    var meta = h("div", {className: "meta"});
    var context = h("div", {className: "context"});
    var body = h("blockquote", {className: "body"});
    var scores = h("div", {className: "scores", role: "list", "aria-label": "Scores"});
    var reasons = h("ul", {className: "reasons", "aria-label": "Reasons"});
    var reports = h("div", {className: "reports"});
    var reason = h("input", {className: "reason", id: "reason-" + id, maxlength: 500, autocomplete: "off", placeholder: "optional"});
    var msg = h("p", {className: "error", role: "alert"});
    var history = h("div", {className: "history", hidden: true, "aria-label": "History of comment #" + id});
    var histBtn = h("button", {type: "button", className: "btn", "aria-expanded": "false", "aria-controls": "history-" + id,
      text: "History", onclick: function () { toggleHistory(id); }});
    history.id = "history-" + id;
    var li = h("li", {className: "item", tabindex: "-1", "data-id": id, "aria-label": "Comment #" + id, onclick: function (e) {
      if (!e.target.closest("button,input,a,select,textarea,label")) select(id, true);
    }}, [
      h("div", {className: "item-head"}, [check, meta]),
      context, body, scores, reasons, reports,
      h("div", {className: "decide"}, [
        h("label", {for: reason.id, text: "Reason"}), reason,
        h("button", {type: "button", className: "btn approve", text: "Approve", title: "Approve (a)", onclick: function () { decide(id, "approve"); }}),
        h("button", {type: "button", className: "btn reject", text: "Reject", title: "Reject (r)", onclick: function () { decide(id, "reject"); }}),
        histBtn
      ]), msg, history
    ]);

    function fill(it) {
      meta.textContent = "";
      meta.append(h("strong", {className: "author", text: it.author.name || "(deleted)"}), " · ",
        h("span", {className: "article", text: "article " + it.article_id}), " · ",
        h("time", {dateTime: it.created_at, text: when(it.created_at)}), " · ",
        h("span", {className: "status status-" + it.status, text: it.status}),
        h("span", {className: "muted", text: (it.edited_at ? " · edited" : "") + " · #" + it.id + " v" + it.version}));
      if (it.decided_by) meta.append(h("span", {className: "muted", text: " · decided by " + it.decided_by}));
      body.textContent = it.body;
      if (!context.firstChild) showContext(it, context);
      scores.textContent = "";
      var labels = Object.keys(it.scores || {}).sort(function (a, b) { return it.scores[b] - it.scores[a]; });
      if (!labels.length) scores.append(h("span", {className: "muted", text: it.status === "pending" ? "not scored yet" : "no scores"}));
      labels.forEach(function (label) {
        var v = Number(it.scores[label]) || 0, fillEl = h("span", {className: "fill"});
        fillEl.style.width = Math.round(v * 100) + "%"; // CSSOM, which the CSP allows
        scores.append(h("div", {className: "score " + (v >= 0.7 ? "high" : v >= 0.4 ? "mid" : "low"), role: "listitem"}, [
          h("span", {className: "label", text: label}),
          h("span", {className: "track", role: "meter", "aria-label": label, "aria-valuemin": "0", "aria-valuemax": "1", "aria-valuenow": v.toFixed(2)}, [fillEl]),
          h("span", {className: "value", text: v.toFixed(2)})]));
      });
      if (it.scorer && it.scorer.name) scores.append(h("span", {className: "muted scorer", text: it.scorer.name + " " + (it.scorer.version || "")}));
      reasons.textContent = "";
      (it.reasons || []).forEach(function (r) { reasons.append(h("li", {text: r})); });
      reports.textContent = "";
      if ((it.reports || []).length) {
        reports.append(h("strong", {text: "Reports (" + it.reports.length + ")"}), h("ul", {}, it.reports.map(function (r) {
          return h("li", {text: [r.reason, r.note, when(r.at)].filter(Boolean).join(" · ")});
        })));
      }
    }
    return {li: li, fill: fill, check: check, reason: reason, msg: msg, history: history, histBtn: histBtn, item: it};
  }

  function showContext(it, el) {
    if (!it.parent_id) { el.append(h("span", {className: "muted", text: "Top-level comment on " + it.article_id})); return; }
    el.append(h("span", {className: "muted", text: "In reply to #" + it.parent_id + ": "}));
    var quote = h("q", {className: "parent", text: "…"});
    el.append(quote);
    var known = parents[it.parent_id] || (parents[it.parent_id] = api("GET", "/comments/" + it.parent_id));
    known.then(function (p) {
      var text = p.body.length > 280 ? p.body.slice(0, 280) + "…" : p.body;
      quote.textContent = (p.author.name ? p.author.name + ": " : "") + (text || "(deleted)");
    }, function () { quote.textContent = "(parent not available)"; delete parents[it.parent_id]; });
  }

  function toggleHistory(id) {
    var node = state.items[id];
    if (!node) return;
    var open = node.history.hidden;
    node.history.hidden = !open;
    node.histBtn.setAttribute("aria-expanded", String(open));
    if (!open) return;
    node.history.textContent = "Loading history…";
    api("GET", "/moderation/comments/" + id + "/history").then(function (data) {
      node.history.textContent = "";
      node.history.append(h("h3", {text: "History"}), h("ol", {}, data.events.map(function (e) {
        var scores = e.scores ? Object.keys(e.scores).map(function (k) { return k + " " + Number(e.scores[k]).toFixed(2); }).join(", ") : "";
        return h("li", {}, [h("time", {dateTime: e.at, text: when(e.at)}), " ",
          h("strong", {text: e.action}), " by " + e.actor + " · " + (e.from_status || "new") + " → " + e.to_status,
          e.reason ? h("span", {className: "why", text: " · “" + e.reason + "”"}) : null,
          scores ? h("span", {className: "muted", text: " · " + scores}) : null]);
      })));
    }, function (err) { node.history.textContent = err.message; });
  }

  // -- decisions -------------------------------------------------------------------------------
  function decide(id, action) {
    var node = state.items[id];
    if (!node) return;
    var payload = {action: action, version: node.item.version};
    if (node.reason.value.trim()) payload.reason = node.reason.value.trim();
    state.busy++;
    node.msg.textContent = "";
    var next = neighbour(id, 1) || neighbour(id, -1);
    api("POST", "/moderation/comments/" + id + "/decision", payload).then(function (item) {
      notice((action === "approve" ? "Approved" : "Rejected") + " comment #" + id + " by " + item.author.name + ".");
      drop(id);
      if (state.selected == null) select(next, true);
    }, function (err) {
      if (err.status === 409) {
        // Someone else got there first: say who, then let the refresh show the item as it is now.
        var by = err.details.decided_by, text = err.message;
        if (by && text.indexOf(by) < 0) text = "already decided by " + by + " (" + text + ")";
        notice("Comment #" + id + ": " + text + ". The queue has been refreshed.");
        node.msg.textContent = text;
      } else {
        node.msg.textContent = err.message;
        notice("Comment #" + id + ": " + err.message);
      }
    }).then(function () { state.busy--; return refresh(false); });
  }

  function picked() {
    return state.order.filter(function (id) { return state.items[id].check.checked; });
  }
  function updateBulk() {
    var n = picked().length;
    $("selected-count").textContent = n + " selected";
    $("bulk-approve").disabled = $("bulk-reject").disabled = n === 0;
    $("select-all").checked = n > 0 && n === state.order.length;
  }
  function bulk(action) {
    var ids = picked(), reason = $("bulk-reason").value.trim();
    if (!ids.length) return;
    var decisions = ids.map(function (id) {
      var d = {comment_id: id, action: action, version: state.items[id].item.version};
      var own = state.items[id].reason.value.trim() || reason;
      if (own) d.reason = own;
      return d;
    });
    state.busy++;
    api("POST", "/moderation/decisions", {decisions: decisions}).then(function (data) {
      var failed = data.results.filter(function (r) { return !r.ok; });
      data.results.forEach(function (r) { if (r.ok) drop(r.comment_id); });
      var done = (action === "approve" ? "Approved " : "Rejected ") + (data.results.length - failed.length) + " of " + data.results.length + ".";
      notice(done + failed.map(function (r) { return " #" + r.comment_id + ": " + ((r.error && r.error.message) || "failed") + "."; }).join(""));
      $("bulk-reason").value = "";
    }, function (err) { notice(err.message); }).then(function () { state.busy--; return refresh(false); });
  }
  $("bulk-approve").addEventListener("click", function () { bulk("approve"); });
  $("bulk-reject").addEventListener("click", function () { bulk("reject"); });
  $("select-all").addEventListener("change", function () {
    var on = $("select-all").checked;
    state.order.forEach(function (id) { state.items[id].check.checked = on; });
    updateBulk();
  });

  // -- selection and keyboard -------------------------------------------------------------------
  function neighbour(id, step) { var i = state.order.indexOf(id); return i < 0 ? null : state.order[i + step] || null; }
  function select(id, focus) {
    if (state.selected != null && state.items[state.selected]) state.items[state.selected].li.classList.remove("selected");
    state.selected = id == null ? null : id;
    var node = id != null && state.items[id];
    if (!node) return;
    node.li.classList.add("selected");
    if (focus) { node.li.focus(); node.li.scrollIntoView({block: "nearest"}); }
  }
  document.addEventListener("keydown", function (e) {
    if ($("app").hidden || !$("wordlists-panel").hidden || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest && e.target.closest("input,textarea,select,[contenteditable]")) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    var id = state.selected;
    if (e.key === "j" || e.key === "k") {
      var next = id == null ? state.order[0] : neighbour(id, e.key === "j" ? 1 : -1);
      if (next != null) select(next, true);
    } else if ((e.key === "a" || e.key === "r") && id != null) decide(id, e.key === "a" ? "approve" : "reject");
    else if (e.key === "x" && id != null) { var c = state.items[id].check; c.checked = !c.checked; updateBulk(); }
    else if (e.key === "h" && id != null) toggleHistory(id);
    else return;
    e.preventDefault();
  });

  // -- tabs and filters --------------------------------------------------------------------------
  var tabs = [].slice.call(document.querySelectorAll("[role=tab]"));
  tabs.forEach(function (tab, i) {
    tab.addEventListener("click", function () { showTab(tab); });
    tab.addEventListener("keydown", function (e) {
      var step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (step) { var t = tabs[(i + step + tabs.length) % tabs.length]; showTab(t); t.focus(); e.preventDefault(); }
    });
  });
  function showTab(tab) {
    tabs.forEach(function (t) { var on = t === tab; t.setAttribute("aria-selected", String(on)); t.tabIndex = on ? 0 : -1; });
    var wordLists = tab.id === "tab-wordlists";
    $("app").classList.toggle("lists-open", wordLists);
    $("wordlists-panel").hidden = !wordLists;
    if (wordLists) { loadLists(); return; }
    $("queue-panel").setAttribute("aria-labelledby", tab.id);
    state.status = tab.getAttribute("data-status");
    reload();
  }
  function reload() {
    state.order.slice().forEach(drop);
    state.cursor = null;
    notice("");
    refresh(true);
  }
  var typing;
  $("f-article").addEventListener("input", function () { clearTimeout(typing); typing = setTimeout(reload, 300); });
  $("f-label").addEventListener("change", reload);
  $("f-sort").addEventListener("change", reload);
  $("filters").addEventListener("submit", function (e) { e.preventDefault(); clearTimeout(typing); reload(); });
  $("more").addEventListener("click", loadMore);

  // -- the scorer that decides, and the backtest -------------------------------------------------------
  var SCORER_MS = 30000, scorerAt = 0;
  function showScorer(now) {
    if (!now && Date.now() - scorerAt < SCORER_MS) return;
    scorerAt = Date.now();
    var session = state.session;
    api("GET", "/moderation/stats").then(function (stats) {
      if (session !== state.session) return;
      var s = (stats && stats.scorer) || {};
      var fallback = s.fallback === true || /\(fallback\)/.test(s.version || "");
      var name = s.name ? "Scorer: " + s.name + (s.version ? " " + s.version : "") : "Scorer: none yet";
      // The server words the warning (why the fallback is in use, and what to do about it).
      var text = s.warning ||
        "It only recognises offensive words, not threats or identity attacks phrased politely: published comments may need a closer look.";
      // Only real changes: the banner is an alert, and screen readers announce what changes in it.
      if ($("scorer").textContent !== name) $("scorer").textContent = name;
      $("scorer").classList.toggle("fallback", fallback);
      if ($("scorer-banner-text").textContent !== text) $("scorer-banner-text").textContent = text;
      $("scorer-banner").hidden = !fallback;
      showNudges(stats && stats.nudges);
    }, function () { scorerAt = 0; }); // the queue reports the error; try again on the next refresh
  }

  // "Nudges today: 3 nudged, 1 revised, 1 posted anyway · last 7 days: …" (the widget's warning before posting).
  function nudgeCounts(c) { return c.nudged + " nudged, " + c.revised + " revised, " + c.posted_anyway + " posted anyway"; }
  function showNudges(n) {
    if (!n || !n.today) return;
    var week = {nudged: 0, revised: 0, posted_anyway: 0};
    (n.last_7_days || []).forEach(function (d) { for (var k in week) week[k] += d[k] || 0; });
    $("nudges").textContent = "Nudges today: " + nudgeCounts(n.today) + " · last 7 days: " + nudgeCounts(week);
  }

  function pct(v) { return v == null ? "–" : (v * 100).toFixed(1) + "%"; }
  function num(v, digits) { return v == null ? "–" : Number(v).toFixed(digits); }
  function runBacktest() {
    var p = new URLSearchParams();
    if ($("bt-since").value) p.set("since", $("bt-since").value);
    if ($("bt-target").value.trim()) p.set("target_precision", $("bt-target").value.trim());
    $("bt-status").textContent = "Running the backtest…";
    api("GET", "/moderation/backtest?" + p).then(function (r) {
      $("bt-status").textContent = "";
      showBacktest(r);
    }, function (err) {
      $("bt-status").textContent = "The backtest failed: " + err.message;
    });
  }
  function showBacktest(r) {
    var scorers = r.scorers.map(function (s) { return s.name + " " + (s.version || "") + " (" + s.texts + ")"; }).join(", ");
    var skipped = r.skipped.edited_since_decision + r.skipped.unscored;
    $("bt-summary").textContent = r.texts + " decided comments" + (r.since ? " since " + when(r.since) : "") + ": " +
      r.positives + " rejected, " + r.negatives + " approved by moderators." +
      (scorers ? " Scored by " + scorers + "." : "") +
      (skipped ? " Left out: " + r.skipped.edited_since_decision + " edited since the decision, " + r.skipped.unscored + " without a score." : "") +
      (r.truncated ? " Only the most recent decisions were used." : "");
    $("bt-warning").textContent = r.warning || "";
    $("bt-warning").hidden = !r.warning;
    $("bt-target-head").textContent = "Hold at for precision " + num(r.target_precision, 2);
    var rows = $("bt-rows");
    rows.textContent = "";
    function row(name, e, hold, target) {
      rows.append(h("tr", {}, [h("th", {scope: "row", text: name}), h("td", {text: String(e.texts)}), h("td", {text: num(e.roc_auc, 3)}),
        h("td", {text: hold}), h("td", {text: pct(e.precision)}), h("td", {text: pct(e.recall)}), h("td", {text: pct(e.false_positive_rate)}),
        h("td", {text: target ? (target.reachable ? num(target.hold, 4) : "not reachable") : ""}),
        h("td", {text: target && target.reachable ? pct(target.recall) : ""})]));
    }
    row("Overall (the policy)", r.overall, "", null);
    Object.keys(r.labels).forEach(function (label) {
      var e = r.labels[label];
      row(label, e, num(e.hold, 2), e.target);
    });
    $("bt-result").hidden = false;
  }
  $("backtest").addEventListener("toggle", function () { if ($("backtest").open && $("bt-result").hidden) runBacktest(); });
  $("bt-form").addEventListener("submit", function (e) { e.preventDefault(); runBacktest(); });

  // -- word lists ----------------------------------------------------------------------------------
  var KINDS = ["reject", "hold"], lists = {};
  function entriesOf(kind) {
    return $("wl-" + kind).value.split("\n").map(function (line) { return line.trim(); }).filter(Boolean);
  }
  function edited(kind) {
    return lists[kind] && entriesOf(kind).join("\n") !== lists[kind].entries.join("\n");
  }
  function loadLists() {
    KINDS.forEach(function (kind) {
      if (edited(kind)) return; // unsaved changes stay
      api("GET", "/moderation/wordlists/" + kind).then(showList, function (err) {
        $("wl-" + kind + "-error").textContent = err.message;
      });
    });
  }
  function showList(wl) {
    lists[wl.kind] = wl;
    var area = $("wl-" + wl.kind), n = wl.entries.length;
    area.value = wl.entries.join("\n");
    area.readOnly = !wl.editable;
    $("wl-" + wl.kind + "-save").hidden = !wl.editable;
    $("wl-readonly").hidden = wl.editable;
    $("wl-" + wl.kind + "-error").textContent = "";
    $("wl-" + wl.kind + "-meta").textContent = n + (n === 1 ? " entry" : " entries") +
      (wl.version ? " · version " + wl.version + ", changed " + when(wl.updated_at) + (wl.updated_by ? " by " + wl.updated_by : "") : "");
  }
  function saveList(kind) {
    var entries = entriesOf(kind), error = $("wl-" + kind + "-error");
    error.textContent = "";
    $("wl-notice").textContent = "";
    api("PUT", "/moderation/wordlists/" + kind, {entries: entries, version: lists[kind] ? lists[kind].version : null}).then(function (wl) {
      showList(wl);
      $("wl-notice").textContent = "Saved the " + kind + " list: " + wl.entries.length + " entries (version " + wl.version + ").";
    }, function (err) {
      var why = err.details && Array.isArray(err.details.entries) ? err.details.entries.join("; ") : "";
      error.textContent = "Not saved: " + (err.status === 409 ? err.message + " (your text is still here)" : why || err.message);
    });
  }
  function resetLists() {
    lists = {};
    KINDS.forEach(function (kind) { $("wl-" + kind).value = ""; });
    if (!$("wordlists-panel").hidden) showTab(tabs[0]);
  }
  KINDS.forEach(function (kind) {
    $("wl-" + kind + "-form").addEventListener("submit", function (e) { e.preventDefault(); saveList(kind); });
  });

  if (token()) signIn(); else $("token").focus();
})();
