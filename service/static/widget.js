/*! civility comment widget. Embed: <div data-civility-article="ID"></div>
    <script src="https://YOUR-CIVILITY-HOST/widget.js" async></script>  (see docs/widget.md) */
(function () {
  "use strict";

  // The server puts its limits and lists here when it serves /widget.js (service/pages.py):
  // max_body_chars, max_name_chars, edit_window_seconds, networks, report_reasons.
  var CONFIG = "__CIVILITY_CONFIG__";

  // Loaded async on another origin: the API lives wherever this file came from.
  var script = document.currentScript || [].slice.call(document.scripts).filter(function (s) {
    return /\/widget\.js(\?|#|$)/.test(s.src);
  }).pop();
  if (!script || window.Civility || typeof CONFIG !== "object") return;
  var BASE = script.src.replace(/\/widget\.js([?#].*)?$/, "");
  var API = BASE + "/api/v1";
  var MAX_BODY = CONFIG.max_body_chars, MAX_NAME = CONFIG.max_name_chars, PAGE = 20;
  // How long the nudge may take before the widget posts without it.
  var CHECK_MS = 2500;
  // Without a live stream (blocked, refused, or no EventSource), how often to look for new comments.
  var POLL_MS = 30000;
  // How to share on each network the server counts; networks without an entry get no button.
  var SHARE = {
    facebook: ["Facebook", "https://www.facebook.com/sharer/sharer.php?u={u}"],
    x: ["X", "https://x.com/intent/post?url={u}&text={t}"],
    linkedin: ["LinkedIn", "https://www.linkedin.com/sharing/share-offsite/?url={u}"],
    reddit: ["Reddit", "https://www.reddit.com/submit?url={u}&title={t}"],
    whatsapp: ["WhatsApp", "https://wa.me/?text={t}%20{u}"],
    telegram: ["Telegram", "https://t.me/share/url?url={u}&text={t}"],
    mastodon: ["Mastodon", "https://s2f.kytta.dev/?text={t}%20{u}"],
    bluesky: ["Bluesky", "https://bsky.app/intent/compose?text={t}%20{u}"],
    email: ["Email", "mailto:?subject={t}&body={u}"],
    copy_link: ["Copy link", null]
  };
  var REASON_LABELS = {spam: "Spam", abuse: "Abusive or hateful", off_topic: "Off topic", other: "Something else"};
  var FIELDS = {body: "Comment", author_name: "Name", parent_id: "Reply", reason: "Reason", note: "Note", value: "Vote", network: "Network", article_id: "Article"};
  var BADGES = {pending: "Awaiting review", flagged: "Held for review", rejected: "Not published"};
  var NOTICES = {
    flagged: "Thanks for your patience: a moderator will review your comment before others can see it. Only you can see it for now.",
    rejected: "Your comment was not published because it does not meet our community guidelines."
  };
  var uid = 0;

  // -- small helpers ------------------------------------------------------------------------
  function h(tag, props, kids) {
    var el = document.createElement(tag);
    for (var k in props || {}) {
      var v = props[k];
      if (v == null || v === false) continue;
      if (k === "text") el.textContent = v;
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else if (k === "className" || k === "type" || k === "value" || k === "disabled" || k === "hidden") el[k] = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    (kids || []).forEach(function (c) { if (c != null) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return el;
  }
  function nextId(suffix) { return "cv" + (++uid) + "-" + suffix; }
  function store(key, value) {
    try {
      if (value === undefined) return JSON.parse(localStorage.getItem("civility:" + key)) || {};
      localStorage.setItem("civility:" + key, JSON.stringify(value));
    } catch (e) { return {}; } // storage blocked (private mode, third-party rules): work without it
  }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }
  function chars(s) { return Array.from(s).length; }
  function humanise(code) { var s = code.replace(/_/g, " "); return s.charAt(0).toUpperCase() + s.slice(1); }
  var rtf = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat("en", {numeric: "auto"}) : null;
  function ago(iso) {
    var s = (Date.parse(iso) - Date.now()) / 1000, a = Math.abs(s);
    var steps = [[60, "second", 1], [3600, "minute", 60], [86400, "hour", 3600], [2592000, "day", 86400], [31536000, "month", 2592000], [Infinity, "year", 31536000]];
    for (var i = 0; i < steps.length; i++) {
      if (a < steps[i][0]) return rtf ? rtf.format(Math.round(s / steps[i][2]), steps[i][1]) : new Date(iso).toLocaleString();
    }
  }
  function encArticle(id) { return encodeURIComponent(id).replace(/%2F/g, "/"); }
  function button(label, cls, fn, attrs) {
    return h("button", Object.assign({type: "button", className: cls ? "cv-btn " + cls : "cv-btn", text: label, onclick: fn}, attrs));
  }
  function errorLine() { return h("p", {className: "cv-error", role: "alert"}); }

  // -- the API ------------------------------------------------------------------------------
  function ApiError(message, status, fields) { this.message = message; this.status = status; this.fields = fields || {}; }
  function invalidFields(details) {
    return Object.keys(details).map(function (f) {
      var m = [].concat(details[f]).map(function (x) { return typeof x === "string" ? x : JSON.stringify(x); }).join("; ");
      return (FIELDS[f] || f) + ": " + m;
    });
  }
  function explain(r, data) {
    var err = (data && data.error) || {}, msg = err.message || "", s = r.status;
    if (s === 429) {
      var wait = parseInt(r.headers.get("Retry-After"), 10);
      return "You are doing that too often. Please wait " + (wait > 0 ? plural(wait, "second", "seconds") : "a moment") + " and try again.";
    }
    if (s === 422) {
      var parts = invalidFields(err.details || {});
      return parts.length ? "Please check your input. " + parts.join(". ") + "." : "Please check your input.";
    }
    if (s === 413) return "That is too long to send.";
    if (s === 503) return "Comments are temporarily unavailable. Please try again shortly.";
    if (s === 404) return "That comment no longer exists.";
    if (msg && s < 500) return msg.charAt(0).toUpperCase() + msg.slice(1) + ".";
    return "Something went wrong (error " + s + "). Please try again.";
  }
  function api(method, path, body, headers, signal) {
    var opts = {method: method, headers: headers || {}, credentials: "omit", signal: signal};
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(API + path, opts).then(function (r) {
      if (r.status === 204) return null;
      return r.json().catch(function () { return null; }).then(function (data) {
        if (r.ok) return data;
        throw new ApiError(explain(r, data), r.status, data && data.error && data.error.details);
      });
    }, function () {
      throw new ApiError("Could not reach the comment service. Check your connection and try again.", 0);
    });
  }
  function withToken(w, id) { return signed(w, {"X-Edit-Token": token(w, id)}); }
  // The embedding site's identity token for a signed-in reader (docs/widget.md), read at each call
  // so that a page may refresh it. Sent only on writes and on the reader's own data.
  function signed(w, headers) {
    var t = w.root.getAttribute("data-civility-identity");
    headers = headers || {};
    if (t) headers.Authorization = "Bearer " + t;
    return headers;
  }

  // -- comment text: the server's sanitised html, re-checked against a tiny allowlist --------
  // DOMParser documents are inert (no script, no loads); only p, br and http(s) links are copied.
  function copySafe(from, to) {
    [].forEach.call(from.childNodes, function (n) {
      if (n.nodeType === 3) return to.appendChild(document.createTextNode(n.data));
      if (n.nodeType !== 1) return;
      var tag = n.nodeName.toUpperCase(), href = n.getAttribute("href") || "", out;
      if (tag === "P" || tag === "BR") out = document.createElement(tag);
      else if (tag === "A" && /^https?:\/\//i.test(href)) {
        out = h("a", {href: href, rel: "nofollow ugc noopener noreferrer", target: "_blank"});
      } else if (/^(SCRIPT|STYLE|TEMPLATE|NOSCRIPT|IFRAME|OBJECT|EMBED|TITLE)$/.test(tag)) return;
      if (out) { copySafe(n, out); to.appendChild(out); } else copySafe(n, to);
    });
  }
  function renderBody(el, c) {
    el.textContent = "";
    if (!c.html) { el.appendChild(h("p", {text: c.body || ""})); return; }
    copySafe(new DOMParser().parseFromString("<!doctype html><body>" + c.html, "text/html").body, el);
  }

  // -- one widget per mount element: its state ----------------------------------------------
  function mount(root) {
    if (root.__civility) return;
    root.__civility = true;
    var w = widgetState(root);
    forgetOldTokens(w);
    buildLayout(w);
    buildShareBar(w);
    setTotal(w, 0);
    reset(w).then(function () { restore(w); listen(w); });
    setInterval(function () { refreshTimes(w); }, 60000); // keep "5 minutes ago" honest
  }
  function widgetState(root) {
    var article = root.getAttribute("data-civility-article") || "";
    return {
      root: root, article: article, base: "/articles/" + encArticle(article),
      windowMs: CONFIG.edit_window_seconds * 1000,
      sort: root.getAttribute("data-civility-sort") || "oldest",
      cursor: null, total: 0, shown: {}, live: {}, fresh: {}, seen: 0, stale: {},
      own: store("own"), votes: store("votes"), reported: store("reported")
    };
  }
  // Forget edit tokens after a week; they are only good for the edit window anyway.
  function forgetOldTokens(w) {
    Object.keys(w.own).forEach(function (id) { if (Date.now() - w.own[id].c > 7 * 864e5) delete w.own[id]; });
    store("own", w.own);
  }
  function forget(w, id) { delete w.own[id]; store("own", w.own); }
  function token(w, id) { return w.own[id] && w.own[id].t; }
  function isMine(w, c) {
    return token(w, c.id) && c.status !== "deleted" && c.status !== "rejected" && Date.parse(c.created_at) + w.windowMs > Date.now();
  }
  function say(w, msg) { w.status.textContent = msg; }
  function setTotal(w, n) {
    w.total = Math.max(0, n);
    w.title.textContent = w.total ? plural(w.total, "comment", "comments") : "No comments yet";
  }

  // -- the frame: share bar, heading with sort, the form, the list --------------------------
  function buildLayout(w) {
    w.root.classList.add("cv");
    w.root.textContent = "";
    w.status = h("p", {className: "cv-status", role: "status", "aria-live": "polite"});
    w.share = h("div", {className: "cv-share", role: "group", "aria-label": "Share this article"});
    w.title = h("h2", {className: "cv-title", id: nextId("title"), text: "Comments"});
    w.list = h("ol", {className: "cv-list"});
    w.more = button("Load more comments", "cv-more", function () { load(w); }, {hidden: true});
    w.fresher = button("", "cv-primary cv-fresh", function () { showFresh(w); }, {hidden: true});
    w.root.appendChild(h("section", {className: "cv-root", "aria-labelledby": w.title.id}, [
      w.share,
      h("div", {className: "cv-head"}, [w.title, sortControl(w)]),
      composer(w, null), w.status,
      // Floats over the list, so it never moves what the reader is looking at.
      h("div", {className: "cv-fresh-bar", "aria-live": "polite"}, [w.fresher]),
      w.list, w.more,
      w.root.getAttribute("data-civility-identity") ? yourData(w) : null
    ]));
  }
  function sortControl(w) {
    var select = h("select", {id: nextId("sort"), onchange: function () { w.sort = select.value; reset(w); }},
      [["oldest", "Oldest first"], ["newest", "Newest first"], ["top", "Top rated"]].map(function (o) {
        return h("option", {value: o[0], text: o[1], selected: o[0] === w.sort});
      }));
    return h("span", {className: "cv-sort"}, [h("label", {for: select.id, text: "Sort "}), select]);
  }

  // -- the comment (or reply) form ----------------------------------------------------------
  function composer(w, parentId, onClose) {
    var name = h("input", {id: nextId("name"), className: "cv-input", name: "author_name", autocomplete: "nickname", maxlength: MAX_NAME, required: true, value: store("profile").name || ""});
    var text = h("textarea", {id: nextId("text"), className: "cv-input", name: "body", rows: parentId ? 3 : 4, maxlength: MAX_BODY, required: true});
    var count = h("span", {id: nextId("count"), className: "cv-count"});
    var err = errorLine(), nudge = h("p", {className: "cv-nudge", role: "alert", hidden: true});
    var send = h("button", {type: "submit", className: "cv-btn cv-primary", text: parentId ? "Post reply" : "Post comment"});
    text.setAttribute("aria-describedby", count.id);
    text.addEventListener("input", function () { showCount(text, count); });
    showCount(text, count);
    var form = h("form", {className: "cv-form", "aria-label": parentId ? "Reply" : "Write a comment", novalidate: true, onsubmit: function (e) {
      e.preventDefault();
      var body = text.value.trim(), author = name.value.trim(), problem = checkComment(body, author);
      err.textContent = problem ? problem[0] : "";
      if (problem) return (problem[1] === "name" ? name : text).focus();
      send.disabled = true;
      // First press: ask civility whether this would be held (the nudge). After a nudge: post anyway.
      (nudge.checkId === undefined ? askCheck(w, body) : Promise.resolve(null)).then(function (res) {
        if (res && res.would_hold) return showNudge(nudge, res);
        var payload = {body: body, author_name: author};
        if (nudge.checkId) payload.check_id = nudge.checkId;
        return postComment(w, payload, parentId).then(function () {
          text.value = "";
          text.dispatchEvent(new Event("input"));
          hideNudge(nudge);
          if (onClose) onClose();
        });
      }).catch(function (e) { err.textContent = e.message; }).then(function () { send.disabled = false; });
    }}, [
      h("div", {className: "cv-field"}, [h("label", {for: name.id, text: "Name"}), name]),
      h("div", {className: "cv-field"}, [h("label", {for: text.id, text: parentId ? "Your reply" : "Your comment"}), text]),
      h("div", {className: "cv-foot"}, [count, h("span", {className: "cv-spacer"}),
        onClose ? button("Cancel", "", onClose) : null, send]),
      nudge, err
    ]);
    form.focusText = function () { (name.value ? text : name).focus(); };
    return form;
  }
  function showCount(text, count) {
    var used = chars(text.value);
    count.textContent = used + " / " + MAX_BODY + " characters";
    count.classList.toggle("cv-over", used > MAX_BODY);
  }
  // [message, field] when the comment cannot be sent as it is.
  function checkComment(body, author) {
    if (!author) return ["Please enter your name.", "name"];
    if (!body) return ["Please write something first.", "body"];
    if (chars(body) > MAX_BODY) return ["Your comment is too long: at most " + MAX_BODY + " characters.", "body"];
  }
  // The nudge: would the policy hold this text? null when civility cannot say in time (then just post).
  function askCheck(w, body) {
    var ctl = window.AbortController ? new AbortController() : null, timer;
    var late = new Promise(function (done) {
      timer = setTimeout(function () { if (ctl) ctl.abort(); done(null); }, CHECK_MS);
    });
    var asked = api("POST", w.base + "/comments/check", {body: body}, {}, ctl && ctl.signal)
      .catch(function () { return null; });
    return Promise.race([asked, late]).then(function (res) { clearTimeout(timer); return res; });
  }
  // Shown once per comment: the next press of Post posts it anyway (to the moderators, as usual).
  function showNudge(nudge, res) {
    nudge.checkId = res.check_id || "";
    nudge.hidden = false;
    nudge.textContent = "This may break the discussion guidelines: " + (res.reasons.join(", ") || "it may be held for review") +
      ". Edit it, or post anyway.";
  }
  function hideNudge(nudge) {
    nudge.checkId = undefined;
    nudge.hidden = true;
    nudge.textContent = "";
  }
  function postComment(w, payload, parentId) {
    if (parentId) payload.parent_id = parentId;
    return api("POST", w.base + "/comments", payload, signed(w)).then(function (c) {
      store("profile", {name: payload.author_name});
      w.own[c.id] = {t: c.edit_token, a: w.article, c: Date.now()};
      store("own", w.own);
      place(w, c, true);
      if (c.status === "published") { setTotal(w, w.total + 1); say(w, "Your comment was published."); }
      else say(w, "Thanks! Your comment is awaiting review and will appear once it has been checked.");
    });
  }

  // -- one comment: its card, replies and the slot for a form under it ----------------------
  function commentView(w, c) {
    var node = {
      data: c, repliesCursor: null,
      li: h("li", {className: "cv-c", id: "cv-c-" + c.id, "data-id": c.id}),
      author: h("span", {className: "cv-author"}),
      time: h("time", {className: "cv-time"}),
      badge: h("span", {className: "cv-badge"}),
      body: h("div", {className: "cv-body"}),
      notice: h("p", {className: "cv-notice", role: "status"}),
      actions: h("div", {className: "cv-actions"}),
      slot: h("div", {className: "cv-slot"}),
      replies: h("ol", {className: "cv-replies", "aria-label": "Replies"})
    };
    node.moreReplies = button("", "cv-link cv-more-replies", function () { loadReplies(w, node); }, {hidden: true});
    node.li.appendChild(h("article", {className: "cv-card"}, [
      h("div", {className: "cv-meta"}, [node.author, " ", node.time, " ", node.badge]),
      node.body, node.notice, node.actions, node.slot]));
    if (!c.parent_id) node.li.append(node.replies, node.moreReplies);
    updateComment(w, node, c);
    return node;
  }
  function updateComment(w, node, d) {
    node.data = d;
    var s = d.status;
    node.li.className = "cv-c cv-" + s;
    renderMeta(node, d);
    if (s === "deleted") node.body.textContent = "This comment was deleted.";
    else if (s === "rejected") node.body.textContent = "";
    else renderBody(node.body, d);
    // What the reader was told about this comment (a report's thanks) outlives a live refresh.
    node.notice.textContent = NOTICES[s] || node.told || "";
    renderActions(w, node, d);
  }
  function renderMeta(node, d) {
    var time = node.time;
    node.author.textContent = d.status === "deleted" ? "" : d.author.name;
    time.dateTime = d.created_at;
    time.setAttribute("data-edited", d.edited_at ? " · edited" : "");
    time.textContent = ago(d.created_at) + time.getAttribute("data-edited");
    time.title = new Date(d.created_at).toLocaleString();
    node.badge.textContent = BADGES[d.status] || "";
    node.badge.hidden = !node.badge.textContent;
  }
  function renderActions(w, node, d) {
    var actions = node.actions;
    actions.textContent = "";
    if (d.status === "published") {
      var v = w.votes[d.id] || 0, self = token(w, d.id);
      // Readers cannot vote on or report their own comments; the API says so too.
      [
        self ? null : button("▲", "cv-link cv-up", function () { vote(w, node, 1); }, {"aria-label": "Upvote", "aria-pressed": String(v === 1)}),
        h("span", {className: "cv-votes", text: String(d.votes), "aria-label": plural(d.votes, "vote", "votes")}),
        self ? null : button("▼", "cv-link cv-down", function () { vote(w, node, -1); }, {"aria-label": "Downvote", "aria-pressed": String(v === -1)}),
        button("Reply", "cv-link cv-reply", function () { openSlot(node, composer(w, d.parent_id || d.id, function () { openSlot(node, null); })); }),
        self ? null : w.reported[d.id] ? h("span", {className: "cv-muted", text: "Reported"})
          : button("Report", "cv-link cv-report-btn", function () { openSlot(node, reportForm(w, node)); })
      ].forEach(function (el) { if (el) actions.appendChild(el); });
    }
    if (isMine(w, d)) {
      actions.append(button("Edit", "cv-link cv-edit-btn", function () { openSlot(node, editForm(w, node)); }),
        button("Delete", "cv-link cv-delete-btn", function () { openSlot(node, deleteConfirm(w, node)); }));
    }
  }
  // Show one form under the comment (or none), focused.
  function openSlot(node, form) {
    node.slot.textContent = "";
    if (form) { node.slot.appendChild(form); (form.focusText || function () { form.querySelector("input,textarea,button").focus(); })(); }
  }
  function closeSlot(node) { openSlot(node, null); }
  function formFoot(submitLabel, node) {
    return h("div", {className: "cv-foot"}, [h("button", {type: "submit", className: "cv-btn cv-primary", text: submitLabel}),
      button("Cancel", "", function () { closeSlot(node); })]);
  }

  // -- voting ---------------------------------------------------------------------------------
  // Pressing the same arrow again takes the vote back.
  function vote(w, node, value) {
    var id = node.data.id, next = (w.votes[id] || 0) === value ? 0 : value;
    api("POST", "/comments/" + id + "/votes", {value: next}, signed(w)).then(function (r) {
      w.votes[id] = next; store("votes", w.votes);
      node.data.votes = r.votes; updateComment(w, node, node.data);
    }, function (e) { node.notice.textContent = e.message; });
  }

  // -- reporting ------------------------------------------------------------------------------
  function reportForm(w, node) {
    var group = nextId("reason"), note = h("input", {id: nextId("note"), className: "cv-input", maxlength: 500});
    var err = errorLine();
    var form = h("form", {className: "cv-report", onsubmit: function (e) {
      e.preventDefault();
      var picked = form.querySelector("input[type=radio]:checked");
      if (!picked) { err.textContent = "Please choose a reason."; return; }
      sendReport(w, node, picked.value, note.value.trim()).catch(function (e) { err.textContent = e.message; });
    }}, [h("fieldset", {}, [h("legend", {text: "Why are you reporting this comment?"})].concat(
      CONFIG.report_reasons.map(function (code) {
        return h("label", {className: "cv-choice"}, [h("input", {type: "radio", name: group, value: code}), " " + (REASON_LABELS[code] || humanise(code))]);
      }), [h("div", {className: "cv-field"}, [h("label", {for: note.id, text: "Details (optional)"}), note]),
        formFoot("Send report", node), err]))]);
    form.focusText = function () { form.querySelector("input").focus(); };
    return form;
  }
  function sendReport(w, node, reason, note) {
    var id = node.data.id, payload = {reason: reason};
    if (note) payload.note = note;
    return api("POST", "/comments/" + id + "/reports", payload, signed(w)).then(function () {
      w.reported[id] = 1; store("reported", w.reported);
      node.told = "Thank you. A moderator will take a look.";
      closeSlot(node); updateComment(w, node, node.data);
    });
  }

  // -- editing and deleting one's own comment -------------------------------------------------
  function editForm(w, node) {
    var id = node.data.id, err = errorLine();
    var text = h("textarea", {id: nextId("edit"), className: "cv-input", rows: 4, maxlength: MAX_BODY, value: node.data.body});
    var form = h("form", {className: "cv-edit", onsubmit: function (e) {
      e.preventDefault();
      api("PATCH", "/comments/" + id, {body: text.value.trim()}, withToken(w, id)).then(function (fresh) {
        var was = node.data.status;
        closeSlot(node); updateComment(w, node, fresh);
        if (was === "published" && fresh.status !== "published") setTotal(w, w.total - 1);
        if (fresh.status === "pending") { say(w, "Your edit is awaiting review."); watch(w, node); }
      }, function (e) { err.textContent = e.message; });
    }}, [h("label", {for: text.id, text: "Edit your comment"}), text, formFoot("Save", node), err]);
    form.focusText = function () { text.focus(); };
    return form;
  }
  function deleteConfirm(w, node) {
    var err = errorLine();
    var yes = button("Yes, delete", "cv-danger", function () {
      deleteComment(w, node).catch(function (e) { err.textContent = e.message; });
    });
    var box = h("div", {className: "cv-confirm", role: "group", "aria-label": "Confirm deletion"}, [
      h("span", {text: "Delete your comment? This cannot be undone. "}), yes,
      button("Cancel", "", function () { closeSlot(node); }), err]);
    box.focusText = function () { yes.focus(); };
    return box;
  }
  function deleteComment(w, node) {
    var id = node.data.id;
    return api("DELETE", "/comments/" + id, undefined, withToken(w, id)).then(function () {
      if (node.data.status === "published") setTotal(w, w.total - 1);
      forget(w, id);
      delete w.live[id];
      say(w, "Your comment was deleted.");
      // With replies it stays as a placeholder; without, it goes.
      if (node.replies.children.length) { closeSlot(node); updateComment(w, node, Object.assign({}, node.data, {status: "deleted", body: "", html: ""})); }
      else { node.li.remove(); delete w.shown[id]; }
    });
  }

  // -- replies --------------------------------------------------------------------------------
  function showMoreReplies(node) {
    var left = node.data.reply_count - node.replies.querySelectorAll(".cv-c").length;
    node.moreReplies.hidden = left <= 0;
    node.moreReplies.textContent = left > 0 ? "Show " + plural(left, "more reply", "more replies") : "";
  }
  function loadReplies(w, node) {
    var more = node.moreReplies;
    more.disabled = true;
    api("GET", "/comments/" + node.data.id + "/replies?limit=50" + (node.repliesCursor ? "&cursor=" + encodeURIComponent(node.repliesCursor) : "")).then(function (page) {
      page.items.forEach(function (r) { place(w, r); });
      node.repliesCursor = page.next_cursor || "";
      if (!page.next_cursor) node.data.reply_count = node.replies.querySelectorAll(".cv-c").length;
      showMoreReplies(node);
    }, function (e) { node.notice.textContent = e.message; }).then(function () { more.disabled = false; });
  }

  // -- the list: placing comments, pages, sorting, the author's own ---------------------------
  // Put a comment in the list (or under its parent); one node per id.
  function place(w, c, top) {
    var node = w.shown[c.id];
    if (node) { updateComment(w, node, c); return node; }
    var parent = c.parent_id && w.shown[c.parent_id];
    node = w.shown[c.id] = commentView(w, c);
    if (parent) { parent.replies.appendChild(node.li); if (top) parent.data.reply_count++; }
    else if (top) w.list.insertBefore(node.li, w.list.firstChild);
    else w.list.appendChild(node.li);
    (c.replies || []).forEach(function (r) { place(w, r); });
    showMoreReplies(node);
    if (parent) showMoreReplies(parent);
    if (c.status === "pending" || c.status === "flagged") { w.live[c.id] = node; watch(w, node); }
    if (w.fresh[c.id]) { delete w.fresh[c.id]; countFresh(w); }
    return node;
  }

  // Poll one's own unpublished comment until a decision; held ones are checked less often.
  function watch(w, node) {
    var id = node.data.id, delay = 700;
    clearTimeout(node.timer);
    w.live[id] = node; // live events leave it to this loop
    (function tick() {
      node.timer = setTimeout(function () {
        if (!w.root.isConnected || !token(w, id)) return;
        api("GET", "/comments/" + id, undefined, withToken(w, id)).then(function (fresh) {
          var before = node.data.status;
          updateComment(w, node, fresh);
          if (fresh.status === "published" && before !== "published") {
            setTotal(w, w.total + 1);
            say(w, "Your comment is now published.");
          }
          if (fresh.status === "pending") { delay = Math.min(delay * 1.5, 10000); tick(); }
          else if (fresh.status === "flagged") { delay = 15000; tick(); }
          else delete w.live[id];
        }, function (e) {
          if (e.status === 404) { node.li.remove(); delete w.shown[id]; delete w.live[id]; }
          else { delay = Math.min(delay * 2, 30000); tick(); }
        });
      }, delay);
    })();
  }

  function load(w) {
    w.more.disabled = true;
    return api("GET", w.base + "/comments?sort=" + w.sort + "&limit=" + PAGE + (w.cursor ? "&cursor=" + encodeURIComponent(w.cursor) : "")).then(function (page) {
      setTotal(w, page.total);
      page.items.forEach(function (c) {
        place(w, c);
        [c].concat(c.replies || []).forEach(function (r) { w.seen = Math.max(w.seen, r.id); });
      });
      w.cursor = page.next_cursor;
      w.more.hidden = !w.cursor;
      say(w, "");
    }, function (e) { say(w, e.message); }).then(function () { w.more.disabled = false; });
  }
  function reset(w) {
    w.list.textContent = "";
    w.shown = {}; w.cursor = null;
    // The author's own unpublished comments stay on top, whatever the order.
    Object.keys(w.live).forEach(function (id) { var n = w.live[id]; clearTimeout(n.timer); delete w.live[id]; place(w, n.data, true); });
    return load(w);
  }
  // After the first page: the author's own comments still waiting for a decision (e.g. after a reload).
  function restore(w) {
    Object.keys(w.own).forEach(function (id) {
      if (w.own[id].a !== w.article || w.shown[id]) return;
      api("GET", "/comments/" + id, undefined, {"X-Edit-Token": w.own[id].t}).then(function (c) {
        if (c.status === "pending" || c.status === "flagged" || c.status === "rejected") place(w, c, true);
        if (c.status === "rejected" || c.status === "deleted") forget(w, id);
      }, function (e) { if (e.status === 404) forget(w, id); });
    });
  }
  function refreshTimes(w) {
    [].forEach.call(w.list.querySelectorAll("time"), function (t) {
      t.textContent = ago(t.dateTime) + t.getAttribute("data-edited");
    });
  }

  // -- live: what others write while the reader is here (docs/live.md) -------------------------
  // Events say only "comment N changed"; the widget re-reads what it needs. New comments wait
  // behind a button, so nothing moves under the reader's eyes.
  function listen(w) {
    setInterval(function () { if (!streaming(w)) lookForNew(w); }, POLL_MS);
    if (!window.EventSource) return;
    var es = w.events = new EventSource(API + w.base + "/events");
    es.onmessage = function (e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (x) { return; }
      onEvent(w, ev);
    };
    // After a drop the browser reconnects by itself; what happened meanwhile is read once.
    es.onopen = function () { if (w.dropped) { w.dropped = false; lookForNew(w); } };
    es.onerror = function () {
      w.dropped = true;
      if (es.readyState === 2) w.events = null; // refused (503) or not a stream: polling takes over
    };
  }
  function streaming(w) { return w.events && w.events.readyState === 1; }
  function onEvent(w, ev) {
    var id = ev.comment_id;
    if (ev.type === "resync") return lookForNew(w);
    if (!id || w.live[id]) return; // the author's own pending comment: watch() follows it
    if (ev.type === "published" && !w.shown[id]) { w.fresh[id] = 1; return countFresh(w); }
    if (ev.type === "removed" && w.fresh[id]) { delete w.fresh[id]; countFresh(w); }
    if (w.shown[id]) refreshSoon(w, id);
  }
  function countFresh(w) {
    var n = Object.keys(w.fresh).length;
    w.fresher.hidden = !n;
    w.fresher.textContent = n ? plural(n, "new comment", "new comments") : "";
  }
  // Clicking the button: read the thread again, and take the reader to the first new comment.
  function showFresh(w) {
    var ids = Object.keys(w.fresh);
    w.fresh = {};
    countFresh(w);
    reset(w).then(function () {
      var first = ids.map(function (id) { return w.shown[id]; }).filter(Boolean)[0];
      if (first) { first.li.tabIndex = -1; first.li.focus(); }
    });
  }
  // Polling, and after a dropped stream: published comments newer than anything read so far.
  function lookForNew(w) {
    if (!w.root.isConnected) return;
    api("GET", w.base + "/comments?sort=newest&limit=" + PAGE).then(function (page) {
      page.items.forEach(function (c) {
        [c].concat(c.replies || []).forEach(function (r) { if (r.id > w.seen && !w.shown[r.id]) w.fresh[r.id] = 1; });
      });
      countFresh(w);
    }, function () { /* the next round tries again */ });
  }
  // Edits, removals and votes of shown comments: re-read each once, a moment later, so a burst of
  // votes costs one request and many readers do not all ask at the same instant.
  function refreshSoon(w, id) {
    w.stale[id] = 1;
    if (w.staleTimer) return;
    w.staleTimer = setTimeout(function () {
      var ids = Object.keys(w.stale);
      w.stale = {}; w.staleTimer = null;
      ids.forEach(function (id) { refreshOne(w, id); });
    }, 300 + Math.random() * 700);
  }
  function refreshOne(w, id) {
    var node = w.shown[id];
    if (!node) return;
    api("GET", "/comments/" + id, undefined, token(w, id) ? withToken(w, id) : {}).then(function (fresh) {
      if (w.shown[id] !== node) return;
      if (node.data.status === "published" && fresh.status !== "published") setTotal(w, w.total - 1);
      if (node.data.status !== "published" && fresh.status === "published") setTotal(w, w.total + 1);
      updateComment(w, node, Object.assign({}, node.data, fresh));
    }, function (e) {
      if (e.status !== 404 || w.shown[id] !== node) return;
      if (node.data.status === "published") setTotal(w, w.total - 1);
      // Gone: a placeholder while it has replies, else nothing.
      if (node.replies.children.length) updateComment(w, node, Object.assign({}, node.data, {status: "deleted", body: "", html: ""}));
      else { node.li.remove(); delete w.shown[id]; }
    });
  }

  // -- a signed-in reader's own data: download it, or delete it (two steps) -------------------
  function yourData(w) {
    var panel = h("div", {className: "cv-data", id: nextId("data"), role: "group", "aria-label": "Your data", hidden: true});
    var toggle = button("Your data", "cv-link cv-data-toggle", function () {
      panel.hidden = !panel.hidden;
      toggle.setAttribute("aria-expanded", String(!panel.hidden));
    }, {"aria-expanded": "false", "aria-controls": panel.id});
    var result = h("p", {className: "cv-notice", role: "status"}), err = errorLine();
    var confirm = h("div", {className: "cv-confirm", role: "group", "aria-label": "Confirm deleting your data", hidden: true});
    var ask = button("Delete my data", "", function () {
      result.textContent = err.textContent = "";
      confirm.hidden = false;
      ask.disabled = true;
      confirm.querySelector("button").focus();
    });
    var done = function () { confirm.hidden = true; ask.disabled = false; ask.focus(); };
    confirm.append(
      h("p", {text: "Delete everything this site's comments keep about you? Your comments will show as deleted, " +
        "and your votes, reports and shares will be removed. This cannot be undone."}),
      button("Yes, delete my data", "cv-danger", function () {
        err.textContent = "";
        api("DELETE", "/me", undefined, signed(w)).then(function (r) {
          done();
          result.textContent = "Your data was deleted: " + plural(r.comments, "comment", "comments") + ", " +
            plural(r.votes, "vote", "votes") + ", " + plural(r.reports, "report", "reports") + " and " +
            plural(r.shares, "share", "shares") + ".";
          w.votes = {}; store("votes", w.votes);
          reset(w);
        }, function (e) { err.textContent = e.message; });
      }),
      button("Cancel", "", function () { done(); result.textContent = "Nothing was deleted."; }));
    panel.append(
      h("div", {className: "cv-foot"}, [button("Download my data", "", function () {
        err.textContent = "";
        api("GET", "/me/export", undefined, signed(w)).then(function (data) {
          var url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], {type: "application/json"}));
          var link = h("a", {href: url, download: "my-comments-data.json", hidden: true});
          document.body.appendChild(link); link.click(); link.remove();
          setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
          result.textContent = "Your data was downloaded (my-comments-data.json).";
        }, function (e) { err.textContent = e.message; });
      }), ask]),
      confirm, result, err);
    return h("div", {className: "cv-data-box"}, [toggle, panel]);
  }

  // -- share buttons: plain links, nothing is fetched from a network before a click -----------
  function buildShareBar(w) {
    var root = w.root, wanted = root.getAttribute("data-civility-share");
    if (wanted === "none") { w.share.hidden = true; return; }
    w.shareUrl = root.getAttribute("data-civility-url") || (document.querySelector("link[rel=canonical]") || {}).href || location.href.split("#")[0];
    w.shareText = root.getAttribute("data-civility-title") || (document.querySelector("meta[property='og:title']") || {}).content || document.title;
    w.shareTotal = h("span", {className: "cv-share-total"});
    w.share.appendChild(w.shareTotal);
    (wanted ? wanted.split(/[\s,]+/) : CONFIG.networks).forEach(function (net) {
      if (SHARE[net] && CONFIG.networks.indexOf(net) >= 0) w.share.appendChild(shareButton(w, net));
    });
    api("GET", w.base + "/shares").then(function (data) { showShares(w, data); }, function () { w.shareTotal.textContent = "Share"; });
  }
  function shareButton(w, net) {
    var spec = SHARE[net], label = [spec[0], " ", h("span", {className: "cv-n", "aria-hidden": "true"})];
    if (!spec[1]) {
      return h("button", {type: "button", className: "cv-sh cv-sh-" + net, "data-network": net, onclick: function () {
        copyLink(w);
        recordShare(w, net);
      }}, label);
    }
    var href = spec[1].replace("{u}", encodeURIComponent(w.shareUrl)).replace("{t}", encodeURIComponent(w.shareText));
    return h("a", {className: "cv-sh cv-sh-" + net, href: href, target: net === "email" ? null : "_blank",
      rel: "noopener noreferrer nofollow", "data-network": net,
      "aria-label": net === "email" ? "Share by email" : "Share on " + spec[0] + " (opens in a new window)",
      onclick: function () { recordShare(w, net); }}, label);
  }
  function copyLink(w) {
    var url = w.shareUrl, done = function () { say(w, "Link copied to the clipboard."); };
    (navigator.clipboard ? navigator.clipboard.writeText(url) : Promise.reject()).then(done, function () {
      var tmp = h("textarea", {value: url, readonly: true, className: "cv-offscreen"});
      document.body.appendChild(tmp); tmp.select();
      try { document.execCommand("copy"); done(); } catch (e) { say(w, "Copy this link: " + url); }
      tmp.remove();
    });
  }
  function showShares(w, data) {
    var counts = data.networks || {};
    w.shareTotal.textContent = data.total ? plural(data.total, "share", "shares") : "Share";
    [].forEach.call(w.share.querySelectorAll("[data-network]"), function (b) {
      var n = counts[b.getAttribute("data-network")] || 0;
      b.querySelector(".cv-n").textContent = n ? String(n) : "";
    });
  }
  function recordShare(w, net) {
    api("POST", w.base + "/shares", {network: net}).then(function () { return api("GET", w.base + "/shares"); })
      .then(function (data) { showShares(w, data); }, function () { /* a lost share count is not the reader's problem */ });
  }

  // -- start ----------------------------------------------------------------------------------
  function start() {
    if (!/^(none|false)$/.test(script.getAttribute("data-civility-style") || "") && !document.querySelector("link[data-civility]")) {
      document.head.appendChild(h("link", {rel: "stylesheet", href: BASE + "/widget.css", "data-civility": ""}));
    }
    [].forEach.call(document.querySelectorAll("[data-civility-article]"), mount);
  }
  window.Civility = {mount: mount, config: CONFIG};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
