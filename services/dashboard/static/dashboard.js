// creditflow dashboard: a light touch of script over server-rendered pages, no build step.
// Everything shown from JSON is put in the page as text (textContent), never as markup.
"use strict";

(function () {
  // --- helpers ---------------------------------------------------------------------------

  function h(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = String(value);
      else if (name === "onclick") node.addEventListener("click", value);
      else node.setAttribute(name, String(value));
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!response.ok) {
          var error = new Error((data && data.error) || response.status + " " + response.statusText);
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  function say(element, text, kind) {
    if (!element) return;
    element.textContent = text || "";
    element.className = element.className.replace(/\s*\b(error|done)\b/g, "") + (kind ? " " + kind : "");
  }

  function table(columns, rows) {
    var head = h("tr", {});
    columns.forEach(function (c) { head.appendChild(h("th", { text: c })); });
    var body = h("tbody", {});
    rows.forEach(function (r) { body.appendChild(r); });
    return h("table", { class: "grid" }, h("thead", {}, head), body);
  }

  // Moments are shown as YYYY-MM-DD HH:MM in the administration's time zone, like the
  // server-rendered sections ("sv-SE" formats dates that way).
  var zone = (document.getElementById("dashboard") || document.body).getAttribute("data-timezone");
  var formatter = null;
  try {
    formatter = new Intl.DateTimeFormat("sv-SE", { timeZone: zone || undefined, year: "numeric",
      month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  } catch (e) { formatter = null; }

  function when(iso) {
    if (!iso) return "";
    var moment = new Date(iso);
    if (!formatter || isNaN(moment.getTime())) return String(iso).slice(0, 16).replace("T", " ");
    return formatter.format(moment);
  }

  function unavailable(target, error) {
    target.replaceChildren(
      h("p", { class: error.status === 404 ? "muted" : "problem",
               text: error.status === 404 ? "Not available in this version." : error.message })
    );
  }

  function formValues(form) {
    var values = {};
    new FormData(form).forEach(function (value, name) { values[name] = String(value).trim(); });
    return values;
  }

  // --- list of administrations ----------------------------------------------------------------

  var addForm = document.getElementById("add-administration");
  if (addForm) {
    addForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var v = formValues(addForm);
      var message = addForm.querySelector(".form-message");
      var body = {
        id: v.id, name: v.name, source: v.source, import_mode: v.import_mode, timezone: v.timezone,
        import_at: v.import_at ? v.import_at.split(/[\s,]+/).filter(Boolean) : undefined,
        send_invoices_from: v.send_invoices_from || null, minimum_amount: v.minimum_amount || "0"
      };
      api("POST", "/api/administrations", body).then(function (created) {
        window.location.href = "/administrations/" + encodeURIComponent(created.id);
      }, function (error) { say(message, error.message, "error"); });
    });
  }

  // --- one administration -------------------------------------------------------------------

  var root = document.getElementById("dashboard");
  if (!root) return;
  var admin = root.getAttribute("data-admin");
  var base = "/api/administrations/" + encodeURIComponent(admin);
  var pageBase = "/administrations/" + encodeURIComponent(admin);

  function refreshSection(name) {
    var target = document.getElementById("section-" + name);
    if (!target) return Promise.resolve();
    return fetch(pageBase + "/sections/" + name, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) return;
      return r.text().then(function (html) {
        // Server-rendered and escaped by the template; keep an open <details> open.
        var open = target.querySelector("details[open]") !== null;
        target.innerHTML = html;
        if (open) {
          var details = target.querySelector("details");
          if (details) details.open = true;
        }
      });
    }).catch(function () { /* offline for a moment: the next round retries */ });
  }

  // Import now: publish the request, then follow it to the end of its run.
  var importButton = document.getElementById("import-now");
  var progress = document.getElementById("import-progress");
  var following = null;

  function countsText(counts) {
    var parts = [];
    Object.keys(counts || {}).forEach(function (entity) {
      var c = counts[entity];
      parts.push(entity.replace("_", " ") + "s: " + (c.added || 0) + " added, " + (c.updated || 0) +
                 " updated, " + (c.blocked || 0) + " blocked, " + (c.ignored || 0) + " ignored");
    });
    return parts.join("; ");
  }

  function follow(requestId, startedAt) {
    following = requestId;
    api("GET", base + "/import-requests/" + encodeURIComponent(requestId)).then(function (state) {
      var run = state.run;
      if (!run) {
        say(progress, state.outcome === "unknown_administration" ? "refused" : "requested, waiting for the importer…");
      } else if (run.status === "running") {
        say(progress, "running since " + when(run.started_at) + "…");
      } else {
        following = null;
        importButton.disabled = false;
        var text = "import " + run.status.replace("_", " ");
        // A run of an unchanged export says so instead of counting.
        if (run.status === "completed") say(progress, text + " — " + (run.reason || countsText(run.counts)), "done");
        else say(progress, text + (run.reason ? ": " + run.reason : ""), "error");
        refreshSection("imports");
        refreshSection("errors");
        return;
      }
      refreshSection("imports");
      if (Date.now() - startedAt > 15 * 60 * 1000) {
        following = null;
        importButton.disabled = false;
        say(progress, "still not finished after 15 minutes; see the import log", "error");
        return;
      }
      setTimeout(function () { follow(requestId, startedAt); }, 1000);
    }, function (error) {
      following = null;
      importButton.disabled = false;
      say(progress, error.message, "error");
    });
  }

  if (importButton) {
    importButton.addEventListener("click", function () {
      importButton.disabled = true;
      say(progress, "requesting…");
      api("POST", base + "/imports").then(function (answer) {
        follow(answer.request_id, Date.now());
      }, function (error) {
        importButton.disabled = false;
        say(progress, error.message, "error");
      });
    });
  }

  // Ignore list (DESIGN section 8: GET|POST|DELETE …/ignore-list {"entity", "pattern"}).
  var ignoreList = document.getElementById("ignore-list");
  var ignoreForm = document.getElementById("ignore-form");

  function loadIgnoreList() {
    return api("GET", base + "/ignore-list").then(function (entries) {
      if (!entries.length) {
        ignoreList.replaceChildren(h("p", { class: "muted", text: "Nothing is ignored." }));
        return;
      }
      ignoreList.replaceChildren(table(["What", "Pattern", "Added", ""], entries.map(function (e) {
        return h("tr", { class: "ignore-entry", "data-entity": e.entity, "data-pattern": e.pattern },
          h("td", { text: String(e.entity).replace("_", " ") }),
          h("td", {}, h("code", { text: e.pattern })),
          h("td", { text: when(e.created_at) }),
          h("td", {}, h("button", { type: "button", class: "link", text: "remove", onclick: function () {
            api("DELETE", base + "/ignore-list", { entity: e.entity, pattern: e.pattern })
              .then(loadIgnoreList, function (error) { say(ignoreForm.querySelector(".form-message"), error.message, "error"); });
          } })));
      })));
    }, function (error) { unavailable(ignoreList, error); });
  }

  if (ignoreForm) {
    ignoreForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var v = formValues(ignoreForm);
      var message = ignoreForm.querySelector(".form-message");
      api("POST", base + "/ignore-list", { entity: v.entity, pattern: v.pattern }).then(function () {
        say(message, "added: takes effect with the next import", "done");
        ignoreForm.reset();
        loadIgnoreList();
      }, function (error) { say(message, error.message, "error"); });
    });
  }

  // "ignore…" next to an error fills in the ignore form; the bookkeeper confirms there.
  root.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".ignore-this") : null;
    if (!button || !ignoreForm) return;
    ignoreForm.elements.entity.value = button.getAttribute("data-entity");
    ignoreForm.elements.pattern.value = button.getAttribute("data-key");
    ignoreForm.scrollIntoView({ behavior: "smooth", block: "center" });
    ignoreForm.elements.pattern.focus();
  });

  // Pauses (GET|POST|DELETE …/pauses {"entity", "key", "mode", "until", "reason"}).
  var pauseList = document.getElementById("pause-list");
  var pauseForm = document.getElementById("pause-form");

  function loadPauses() {
    return api("GET", base + "/pauses").then(function (pauses) {
      if (!pauses.length) {
        pauseList.replaceChildren(h("p", { class: "muted", text: "Nothing is paused." }));
        return;
      }
      pauseList.replaceChildren(table(["What", "Number", "Pauses", "Until", "Reason", ""], pauses.map(function (p) {
        return h("tr", { class: "pause-entry" },
          h("td", { text: p.entity }),
          h("td", {}, p.entity === "administration" ? "" : h("code", { text: p.key })),
          h("td", { text: p.mode === "reminders" ? "reminders only" : "everything" }),
          h("td", { text: p.until || "" }),
          h("td", { text: p.reason || "" }),
          h("td", {}, h("button", { type: "button", class: "link", text: "resume", onclick: function () {
            var body = { entity: p.entity };
            if (p.entity !== "administration") body.key = p.key;
            api("DELETE", base + "/pauses", body)
              .then(loadPauses, function (error) { say(pauseForm.querySelector(".form-message"), error.message, "error"); });
          } })));
      })));
    }, function (error) { unavailable(pauseList, error); });
  }

  if (pauseForm) {
    pauseForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var v = formValues(pauseForm);
      var message = pauseForm.querySelector(".form-message");
      var body = { entity: v.entity, mode: v.mode };
      if (v.entity !== "administration") body.key = v.key;
      if (v.until) body.until = v.until;
      if (v.reason) body.reason = v.reason;
      api("POST", base + "/pauses", body).then(function () {
        say(message, "paused: in force now", "done");
        pauseForm.reset();
        loadPauses();
      }, function (error) { say(message, error.message, "error"); });
    });
  }

  // Notifications, newest first (…/notifications); a suppression names the pause behind it.
  function notificationReason(n) {
    var text = n.reason || "";
    var pause = n.pause;
    if (pause && pause.entity) {
      text += " (" + pause.entity + (pause.key && pause.entity !== "administration" ? " " + pause.key : "") +
              (pause.reason ? ": " + pause.reason : "") + ")";
    }
    return text;
  }

  var notificationList = document.getElementById("notification-list");

  var notificationsShown = 10;

  function loadNotifications() {
    return api("GET", base + "/notifications").then(function (items) {
      if (!items.length) {
        notificationList.replaceChildren(h("p", { class: "muted", text: "Nothing sent or suppressed yet." }));
        return;
      }
      var rows = items.slice(0, notificationsShown).map(function (n) {
        return h("tr", { class: "notification" },
          h("td", { text: when(n.at) }),
          h("td", {}, h("code", { text: n.invoice })),
          h("td", { text: String(n.kind).replace("_", " ") }),
          h("td", { text: n.level === null || n.level === undefined ? "" : n.level }),
          h("td", { class: "outcome-" + n.outcome, text: n.outcome }),
          h("td", { text: notificationReason(n) }));
      });
      var parts = [table(["When", "Invoice", "Kind", "Level", "Outcome", "Reason"], rows)];
      if (items.length > notificationsShown) {
        parts.push(h("button", { type: "button", class: "link more", text: "show " + (items.length - notificationsShown) + " more",
          onclick: function () { notificationsShown = items.length; loadNotifications(); } }));
      }
      notificationList.replaceChildren.apply(notificationList, parts);
    }, function (error) { unavailable(notificationList, error); });
  }

  // Explain: why is my change (not) in creditflow?
  var explainForm = document.getElementById("explain-form");
  var explainResult = document.getElementById("explain-result");
  if (explainForm) {
    explainForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var v = formValues(explainForm);
      explainResult.replaceChildren(h("p", { class: "muted", text: "Looking…" }));
      api("GET", base + "/explain/" + encodeURIComponent(v.entity) + "/" + encodeURIComponent(v.key))
        .then(function (answer) {
          var list = h("ul", { class: "reasons" });
          (answer.reasons || []).forEach(function (r) {
            list.appendChild(h("li", {}, h("code", { class: "reason", text: r.code }), " ", r.detail || ""));
          });
          explainResult.replaceChildren(
            h("p", {}, String(answer.entity).replace("_", " ") + " ", h("code", { text: answer.key }), ":"), list);
        }, function (error) {
          explainResult.replaceChildren(h("p", { class: "problem", text: error.message }));
        });
    });
  }

  // Live updates while the page is visible: errors appear within seconds of being raised.
  var round = 0;
  function tick() {
    if (!document.hidden) {
      if (!following) refreshSection("imports");
      refreshSection("errors");
      if (round % 3 === 0) {
        loadNotifications();
        refreshSection("mail");
      }
      round++;
    }
    setTimeout(tick, 3000);
  }

  loadIgnoreList();
  loadPauses();
  loadNotifications();
  setTimeout(tick, 3000);
})();
