/*! civility comment widget. Embed: <div data-civility-article="ID"></div>
    <script src="https://YOUR-CIVILITY-HOST/widget.js" async></script>  (see docs/widget.md) */
(function () {
  "use strict";

  // Loaded async on another origin: the API lives wherever this file came from.
  var script = document.currentScript || [].slice.call(document.scripts).filter(function (s) {
    return /\/widget\.js(\?|#|$)/.test(s.src);
  }).pop();
  if (!script || window.Civility) return;
  var BASE = script.src.replace(/\/widget\.js([?#].*)?$/, "");
  var API = BASE + "/api/v1";
  var MAX_BODY = 5000, MAX_NAME = 64, PAGE = 20;
  var NETWORKS = {
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
  var REASONS = [["spam", "Spam"], ["abuse", "Abusive or hateful"], ["off_topic", "Off topic"], ["other", "Something else"]];
  var FIELDS = {body: "Comment", author_name: "Name", parent_id: "Reply", reason: "Reason", note: "Note", value: "Vote", network: "Network", article_id: "Article"};
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
  function store(key, value) {
    try {
      if (value === undefined) return JSON.parse(localStorage.getItem("civility:" + key)) || {};
      localStorage.setItem("civility:" + key, JSON.stringify(value));
    } catch (e) { return {}; } // storage blocked (private mode, third-party rules): work without it
  }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }
  function chars(s) { return Array.from(s).length; }
  var rtf = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat("en", {numeric: "auto"}) : null;
  function ago(iso) {
    var s = (Date.parse(iso) - Date.now()) / 1000, a = Math.abs(s);
    var steps = [[60, "second", 1], [3600, "minute", 60], [86400, "hour", 3600], [2592000, "day", 86400], [31536000, "month", 2592000], [Infinity, "year", 31536000]];
    for (var i = 0; i < steps.length; i++) {
      if (a < steps[i][0]) return rtf ? rtf.format(Math.round(s / steps[i][2]), steps[i][1]) : new Date(iso).toLocaleString();
    }
  }
  function encArticle(id) { return encodeURIComponent(id).replace(/%2F/g, "/"); }

  // -- the API ------------------------------------------------------------------------------
  function ApiError(message, status, fields) { this.message = message; this.status = status; this.fields = fields || {}; }
  function explain(r, data) {
    var err = (data && data.error) || {}, msg = err.message || "", det = err.details || {};
    var s = r.status, parts;
    if (s === 429) {
      var wait = parseInt(r.headers.get("Retry-After"), 10);
      return "You are doing that too often. Please wait " + (wait > 0 ? plural(wait, "second", "seconds") : "a moment") + " and try again.";
    }
    if (s === 422) {
      parts = Object.keys(det).map(function (f) {
        var m = [].concat(det[f]).map(function (x) { return typeof x === "string" ? x : JSON.stringify(x); }).join("; ");
        return (FIELDS[f] || f) + ": " + m;
      });
      return parts.length ? "Please check your input. " + parts.join(". ") + "." : "Please check your input.";
    }
    if (s === 413) return "That is too long to send.";
    if (s === 503) return "Comments are temporarily unavailable. Please try again shortly.";
    if (s === 404) return "That comment no longer exists.";
    if (msg && s < 500) return msg.charAt(0).toUpperCase() + msg.slice(1) + ".";
    return "Something went wrong (error " + s + "). Please try again.";
  }
  function api(method, path, body, headers) {
    var opts = {method: method, headers: headers || {}, credentials: "omit"};
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

  // -- comment text: the server's sanitised html, re-checked against a tiny allowlist --------
  // DOMParser documents are inert (no script, no loads); only p, br and http(s) links are copied.
  function renderBody(el, c) {
    el.textContent = "";
    if (!c.html) { el.appendChild(h("p", {text: c.body || ""})); return; }
    var doc = new DOMParser().parseFromString("<!doctype html><body>" + c.html, "text/html");
    (function copy(from, to) {
      [].forEach.call(from.childNodes, function (n) {
        if (n.nodeType === 3) return to.appendChild(document.createTextNode(n.data));
        if (n.nodeType !== 1) return;
        var tag = n.nodeName.toUpperCase(), href = n.getAttribute("href") || "", out;
        if (tag === "P" || tag === "BR") out = document.createElement(tag);
        else if (tag === "A" && /^https?:\/\//i.test(href)) {
          out = h("a", {href: href, rel: "nofollow ugc noopener noreferrer", target: "_blank"});
        } else if (/^(SCRIPT|STYLE|TEMPLATE|NOSCRIPT|IFRAME|OBJECT|EMBED|TITLE)$/.test(tag)) return;
        if (out) { copy(n, out); to.appendChild(out); } else copy(n, to);
      });
    })(doc.body, el);
  }

  // -- one widget per mount element ----------------------------------------------------------
  function mount(root) {
    if (root.__civility) return;
    root.__civility = true;
    var article = root.getAttribute("data-civility-article") || "";
    var windowMs = (parseInt(root.getAttribute("data-civility-edit-window"), 10) || 900) * 1000;
    var sort = root.getAttribute("data-civility-sort") || "oldest";
    var cursor = null, total = 0, shown = {}, live = {};
    var own = store("own"), votes = store("votes"), reported = store("reported");
    var base = "/articles/" + encArticle(article);

    // Forget edit tokens after a week; they are only good for the edit window anyway.
    Object.keys(own).forEach(function (id) { if (Date.now() - own[id].c > 7 * 864e5) delete own[id]; });
    store("own", own);

    root.classList.add("cv");
    root.textContent = "";
    var status = h("p", {className: "cv-status", role: "status", "aria-live": "polite"});
    var share = h("div", {className: "cv-share", role: "group", "aria-label": "Share this article"});
    var title = h("h2", {className: "cv-title", id: "cv" + (++uid) + "-title", text: "Comments"});
    var sortSel = h("select", {id: "cv" + uid + "-sort", onchange: function () { sort = sortSel.value; reset(); }},
      [["oldest", "Oldest first"], ["newest", "Newest first"], ["top", "Top rated"]].map(function (o) {
        return h("option", {value: o[0], text: o[1], selected: o[0] === sort});
      }));
    var list = h("ol", {className: "cv-list"});
    var more = h("button", {type: "button", className: "cv-btn cv-more", hidden: true, text: "Load more comments", onclick: function () { load(); }});
    var section = h("section", {className: "cv-root", "aria-labelledby": title.id}, [
      share,
      h("div", {className: "cv-head"}, [title, h("span", {className: "cv-sort"}, [h("label", {for: sortSel.id, text: "Sort "}), sortSel])]),
      composer(null), status, list, more
    ]);
    root.appendChild(section);

    function say(msg) { status.textContent = msg; }
    function setTotal(n) {
      total = Math.max(0, n);
      title.textContent = total ? plural(total, "comment", "comments") : "No comments yet";
    }
    function token(id) { return own[id] && own[id].t; }
    function mine(c) { return token(c.id) && c.status !== "deleted" && c.status !== "rejected" && Date.parse(c.created_at) + windowMs > Date.now(); }

    // -- the reply/comment form --
    function composer(parentId, onClose) {
      var n = ++uid, saved = store("profile").name || "";
      var name = h("input", {id: "cv" + n + "-name", className: "cv-input", name: "author_name", autocomplete: "nickname", maxlength: MAX_NAME, required: true, value: saved});
      var text = h("textarea", {id: "cv" + n + "-text", className: "cv-input", name: "body", rows: parentId ? 3 : 4, maxlength: MAX_BODY, required: true, "aria-describedby": "cv" + n + "-count"});
      var count = h("span", {id: "cv" + n + "-count", className: "cv-count", text: "0 / " + MAX_BODY + " characters"});
      var err = h("p", {className: "cv-error", role: "alert"});
      var send = h("button", {type: "submit", className: "cv-btn cv-primary", text: parentId ? "Post reply" : "Post comment"});
      text.addEventListener("input", function () {
        var used = chars(text.value);
        count.textContent = used + " / " + MAX_BODY + " characters";
        count.classList.toggle("cv-over", used > MAX_BODY);
      });
      var form = h("form", {className: "cv-form", "aria-label": parentId ? "Reply" : "Write a comment", novalidate: true, onsubmit: function (e) {
        e.preventDefault();
        err.textContent = "";
        var body = text.value.trim(), author = name.value.trim();
        if (!author) { err.textContent = "Please enter your name."; return name.focus(); }
        if (!body) { err.textContent = "Please write something first."; return text.focus(); }
        if (chars(body) > MAX_BODY) { err.textContent = "Your comment is too long: at most " + MAX_BODY + " characters."; return text.focus(); }
        send.disabled = true;
        var payload = {body: body, author_name: author};
        if (parentId) payload.parent_id = parentId;
        api("POST", base + "/comments", payload).then(function (c) {
          store("profile", {name: author});
          own[c.id] = {t: c.edit_token, a: article, c: Date.now()};
          store("own", own);
          text.value = "";
          text.dispatchEvent(new Event("input"));
          place(c, true);
          if (c.status === "published") { setTotal(total + 1); say("Your comment was published."); }
          else say("Thanks! Your comment is awaiting review and will appear once it has been checked.");
          if (onClose) onClose();
        }, function (e) { err.textContent = e.message; }).then(function () { send.disabled = false; });
      }}, [
        h("div", {className: "cv-field"}, [h("label", {for: name.id, text: "Name"}), name]),
        h("div", {className: "cv-field"}, [h("label", {for: text.id, text: parentId ? "Your reply" : "Your comment"}), text]),
        h("div", {className: "cv-foot"}, [count, h("span", {className: "cv-spacer"}),
          onClose ? h("button", {type: "button", className: "cv-btn", text: "Cancel", onclick: onClose}) : null, send]),
        err
      ]);
      form.focusText = function () { (name.value ? text : name).focus(); };
      return form;
    }

    // -- one comment --
    function view(c) {
      var li = h("li", {className: "cv-c", id: "cv-c-" + c.id, "data-id": c.id});
      var author = h("span", {className: "cv-author"});
      var time = h("time", {className: "cv-time"});
      var badge = h("span", {className: "cv-badge"});
      var body = h("div", {className: "cv-body"});
      var notice = h("p", {className: "cv-notice", role: "status"});
      var actions = h("div", {className: "cv-actions"});
      var slot = h("div", {className: "cv-slot"});
      var replies = h("ol", {className: "cv-replies", "aria-label": "Replies"});
      var moreReplies = h("button", {type: "button", className: "cv-btn cv-link cv-more-replies", hidden: true});
      var node = {li: li, data: c, replies: replies, repliesCursor: null, update: update};
      li.appendChild(h("article", {className: "cv-card"}, [
        h("div", {className: "cv-meta"}, [author, " ", time, " ", badge]), body, notice, actions, slot]));
      if (!c.parent_id) li.append(replies, moreReplies);

      function open(form) {
        slot.textContent = "";
        if (form) { slot.appendChild(form); (form.focusText || function () { form.querySelector("input,textarea,button").focus(); })(); }
      }
      function close() { open(null); }
      function button(label, cls, fn, attrs) {
        return h("button", Object.assign({type: "button", className: "cv-btn cv-link " + cls, text: label, onclick: fn}, attrs));
      }
      function vote(value) {
        var mineNow = votes[c.id] || 0, next = mineNow === value ? 0 : value;
        api("POST", "/comments/" + c.id + "/votes", {value: next}).then(function (r) {
          votes[c.id] = next; store("votes", votes);
          node.data.votes = r.votes; update(node.data);
        }, function (e) { notice.textContent = e.message; });
      }
      function reportForm() {
        var n = ++uid, note = h("input", {id: "cv" + n + "-note", className: "cv-input", maxlength: 500});
        var err = h("p", {className: "cv-error", role: "alert"});
        var form = h("form", {className: "cv-report", onsubmit: function (e) {
          e.preventDefault();
          var picked = form.querySelector("input[type=radio]:checked");
          if (!picked) { err.textContent = "Please choose a reason."; return; }
          var payload = {reason: picked.value};
          if (note.value.trim()) payload.note = note.value.trim();
          api("POST", "/comments/" + c.id + "/reports", payload).then(function () {
            reported[c.id] = 1; store("reported", reported);
            close(); update(node.data);
            notice.textContent = "Thank you. A moderator will take a look.";
          }, function (e) { err.textContent = e.message; });
        }}, [h("fieldset", {}, [h("legend", {text: "Why are you reporting this comment?"})].concat(
          REASONS.map(function (r) {
            return h("label", {className: "cv-choice"}, [h("input", {type: "radio", name: "cv" + n + "-reason", value: r[0]}), " " + r[1]]);
          }), [h("div", {className: "cv-field"}, [h("label", {for: note.id, text: "Details (optional)"}), note]),
            h("div", {className: "cv-foot"}, [h("button", {type: "submit", className: "cv-btn cv-primary", text: "Send report"}),
              h("button", {type: "button", className: "cv-btn", text: "Cancel", onclick: close})]), err]))]);
        form.focusText = function () { form.querySelector("input").focus(); };
        return form;
      }
      function editForm() {
        var n = ++uid, text = h("textarea", {id: "cv" + n + "-edit", className: "cv-input", rows: 4, maxlength: MAX_BODY, value: node.data.body});
        var err = h("p", {className: "cv-error", role: "alert"});
        var form = h("form", {className: "cv-edit", onsubmit: function (e) {
          e.preventDefault();
          api("PATCH", "/comments/" + c.id, {body: text.value.trim()}, {"X-Edit-Token": token(c.id)}).then(function (fresh) {
            var was = node.data.status;
            close(); update(fresh);
            if (was === "published" && fresh.status !== "published") setTotal(total - 1);
            if (fresh.status === "pending") { say("Your edit is awaiting review."); watch(node); }
          }, function (e) { err.textContent = e.message; });
        }}, [h("label", {for: text.id, text: "Edit your comment"}), text,
          h("div", {className: "cv-foot"}, [h("button", {type: "submit", className: "cv-btn cv-primary", text: "Save"}),
            h("button", {type: "button", className: "cv-btn", text: "Cancel", onclick: close})]), err]);
        form.focusText = function () { text.focus(); };
        return form;
      }
      function deleteForm() {
        var err = h("p", {className: "cv-error", role: "alert"});
        var yes = h("button", {type: "button", className: "cv-btn cv-danger", text: "Yes, delete", onclick: function () {
          api("DELETE", "/comments/" + c.id, undefined, {"X-Edit-Token": token(c.id)}).then(function () {
            if (node.data.status === "published") setTotal(total - 1);
            delete own[c.id]; store("own", own);
            delete live[c.id];
            say("Your comment was deleted.");
            if (replies.children.length) { close(); update(Object.assign({}, node.data, {status: "deleted", body: "", html: ""})); }
            else { li.remove(); delete shown[c.id]; }
          }, function (e) { err.textContent = e.message; });
        }});
        var box = h("div", {className: "cv-confirm", role: "group", "aria-label": "Confirm deletion"}, [
          h("span", {text: "Delete your comment? This cannot be undone. "}), yes,
          h("button", {type: "button", className: "cv-btn", text: "Cancel", onclick: close}), err]);
        box.focusText = function () { yes.focus(); };
        return box;
      }

      function update(d) {
        node.data = d;
        var s = d.status, dead = s === "deleted";
        li.className = "cv-c cv-" + s;
        author.textContent = dead ? "" : d.author.name;
        time.dateTime = d.created_at;
        time.setAttribute("data-edited", d.edited_at ? " · edited" : "");
        time.textContent = ago(d.created_at) + time.getAttribute("data-edited");
        time.title = new Date(d.created_at).toLocaleString();
        badge.textContent = {pending: "Awaiting review", flagged: "Held for review", rejected: "Not published"}[s] || "";
        badge.hidden = !badge.textContent;
        if (dead) body.textContent = "This comment was deleted.";
        else if (s === "rejected") body.textContent = "";
        else renderBody(body, d);
        notice.textContent = s === "flagged" ? "Thanks for your patience: a moderator will review your comment before others can see it. Only you can see it for now."
          : s === "rejected" ? "Your comment was not published because it does not meet our community guidelines." : "";
        actions.textContent = "";
        if (s === "published") {
          var v = votes[d.id] || 0, self = token(d.id);
          // Readers cannot vote on or report their own comments; the API says so too.
          [
            self ? null : button("▲", "cv-up", function () { vote(1); }, {"aria-label": "Upvote", "aria-pressed": String(v === 1)}),
            h("span", {className: "cv-votes", text: String(d.votes), "aria-label": plural(d.votes, "vote", "votes")}),
            self ? null : button("▼", "cv-down", function () { vote(-1); }, {"aria-label": "Downvote", "aria-pressed": String(v === -1)}),
            button("Reply", "cv-reply", function () { open(composer(d.parent_id || d.id, close)); }),
            self ? null : reported[d.id] ? h("span", {className: "cv-muted", text: "Reported"})
              : button("Report", "cv-report-btn", function () { open(reportForm()); })
          ].forEach(function (el) { if (el) actions.appendChild(el); });
        }
        if (mine(d)) {
          actions.append(button("Edit", "cv-edit-btn", function () { open(editForm()); }),
            button("Delete", "cv-delete-btn", function () { open(deleteForm()); }));
        }
      }
      function showMoreReplies() {
        var left = node.data.reply_count - replies.querySelectorAll(".cv-c").length;
        moreReplies.hidden = left <= 0;
        moreReplies.textContent = left > 0 ? "Show " + plural(left, "more reply", "more replies") : "";
      }
      moreReplies.addEventListener("click", function () {
        moreReplies.disabled = true;
        api("GET", "/comments/" + c.id + "/replies?limit=50" + (node.repliesCursor ? "&cursor=" + encodeURIComponent(node.repliesCursor) : "")).then(function (page) {
          page.items.forEach(function (r) { place(r); });
          node.repliesCursor = page.next_cursor || "";
          if (!page.next_cursor) node.data.reply_count = replies.querySelectorAll(".cv-c").length;
          showMoreReplies();
        }, function (e) { notice.textContent = e.message; }).then(function () { moreReplies.disabled = false; });
      });
      node.showMoreReplies = showMoreReplies;
      update(c);
      return node;
    }

    // Put a comment in the list (or under its parent); one node per id.
    function place(c, top) {
      if (shown[c.id]) { shown[c.id].update(c); return shown[c.id]; }
      var node = view(c), parent = c.parent_id && shown[c.parent_id];
      shown[c.id] = node;
      if (parent) { parent.replies.appendChild(node.li); if (top) parent.data.reply_count++; }
      else if (top) list.insertBefore(node.li, list.firstChild);
      else list.appendChild(node.li);
      (c.replies || []).forEach(function (r) { place(r); });
      if (node.showMoreReplies) node.showMoreReplies();
      if (parent) parent.showMoreReplies();
      if (c.status === "pending" || c.status === "flagged") { live[c.id] = node; watch(node); }
      return node;
    }

    // Poll one's own unpublished comment until a decision; held ones are checked less often.
    function watch(node) {
      var id = node.data.id, delay = 700;
      clearTimeout(node.timer);
      (function tick() {
        node.timer = setTimeout(function () {
          if (!root.isConnected || !token(id)) return;
          api("GET", "/comments/" + id, undefined, {"X-Edit-Token": token(id)}).then(function (fresh) {
            var before = node.data.status;
            node.update(fresh);
            if (fresh.status === "published" && before !== "published") {
              setTotal(total + 1);
              say("Your comment is now published.");
            }
            if (fresh.status === "pending") { delay = Math.min(delay * 1.5, 10000); tick(); }
            else if (fresh.status === "flagged") { delay = 15000; tick(); }
            else delete live[id];
          }, function (e) {
            if (e.status === 404) { node.li.remove(); delete shown[id]; delete live[id]; }
            else { delay = Math.min(delay * 2, 30000); tick(); }
          });
        }, delay);
      })();
    }

    function load() {
      more.disabled = true;
      return api("GET", base + "/comments?sort=" + sort + "&limit=" + PAGE + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "")).then(function (page) {
        setTotal(page.total);
        page.items.forEach(function (c) { place(c); });
        cursor = page.next_cursor;
        more.hidden = !cursor;
        say("");
      }, function (e) { say(e.message); }).then(function () { more.disabled = false; });
    }
    function reset() {
      list.textContent = "";
      shown = {}; cursor = null;
      // The author's own unpublished comments stay on top, whatever the order.
      Object.keys(live).forEach(function (id) { var n = live[id]; clearTimeout(n.timer); delete live[id]; place(n.data, true); });
      return load();
    }
    // After the first page: the author's own comments still waiting for a decision (e.g. after a reload).
    function restore() {
      Object.keys(own).forEach(function (id) {
        if (own[id].a !== article || shown[id]) return;
        api("GET", "/comments/" + id, undefined, {"X-Edit-Token": own[id].t}).then(function (c) {
          if (c.status === "pending" || c.status === "flagged") place(c, true);
          else if (c.status === "rejected" || c.status === "deleted") {
            if (c.status === "rejected") place(c, true);
            delete own[id]; store("own", own);
          }
        }, function (e) { if (e.status === 404) { delete own[id]; store("own", own); } });
      });
    }

    // -- share buttons: plain links, nothing is fetched from a network before a click --------
    var counts = {}, shareTotal = h("span", {className: "cv-share-total"});
    var url = root.getAttribute("data-civility-url") || (document.querySelector("link[rel=canonical]") || {}).href || location.href.split("#")[0];
    var heading = root.getAttribute("data-civility-title") || (document.querySelector("meta[property='og:title']") || {}).content || document.title;
    var wanted = (root.getAttribute("data-civility-share") || Object.keys(NETWORKS).join(",")).split(/[\s,]+/);
    function showShares(data) {
      counts = data.networks || {};
      shareTotal.textContent = data.total ? plural(data.total, "share", "shares") : "Share";
      [].forEach.call(share.querySelectorAll("[data-network]"), function (b) {
        var n = counts[b.getAttribute("data-network")] || 0;
        b.querySelector(".cv-n").textContent = n ? String(n) : "";
      });
    }
    function recordShare(net) {
      api("POST", base + "/shares", {network: net}).then(function () { return api("GET", base + "/shares"); })
        .then(showShares, function () { /* a lost share count is not the reader's problem */ });
    }
    if (root.getAttribute("data-civility-share") !== "none") {
      share.appendChild(shareTotal);
      wanted.forEach(function (net) {
        var spec = NETWORKS[net];
        if (!spec) return;
        var label = [spec[0], " ", h("span", {className: "cv-n", "aria-hidden": "true"})];
        if (!spec[1]) {
          share.appendChild(h("button", {type: "button", className: "cv-sh cv-sh-" + net, "data-network": net, onclick: function () {
            var done = function () { say("Link copied to the clipboard."); };
            (navigator.clipboard ? navigator.clipboard.writeText(url) : Promise.reject()).then(done, function () {
              var tmp = h("textarea", {value: url, readonly: true, className: "cv-offscreen"});
              document.body.appendChild(tmp); tmp.select();
              try { document.execCommand("copy"); done(); } catch (e) { say("Copy this link: " + url); }
              tmp.remove();
            });
            recordShare(net);
          }}, label));
          return;
        }
        var href = spec[1].replace("{u}", encodeURIComponent(url)).replace("{t}", encodeURIComponent(heading));
        share.appendChild(h("a", {className: "cv-sh cv-sh-" + net, href: href, target: net === "email" ? null : "_blank",
          rel: "noopener noreferrer nofollow", "data-network": net,
          "aria-label": net === "email" ? "Share by email" : "Share on " + spec[0] + " (opens in a new window)",
          onclick: function () { recordShare(net); }}, label));
      });
      api("GET", base + "/shares").then(showShares, function () { shareTotal.textContent = "Share"; });
    } else share.hidden = true;

    setTotal(0);
    reset().then(restore);
    setInterval(function () { // keep "5 minutes ago" honest
      [].forEach.call(list.querySelectorAll("time"), function (t) {
        t.textContent = ago(t.dateTime) + t.getAttribute("data-edited");
      });
    }, 60000);
  }

  function start() {
    if (!/^(none|false)$/.test(script.getAttribute("data-civility-style") || "") && !document.querySelector("link[data-civility]")) {
      document.head.appendChild(h("link", {rel: "stylesheet", href: BASE + "/widget.css", "data-civility": ""}));
    }
    [].forEach.call(document.querySelectorAll("[data-civility-article]"), mount);
  }
  window.Civility = {mount: mount};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
