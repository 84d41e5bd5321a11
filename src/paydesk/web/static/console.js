// The agent console, live: one /ws/agent connection. The open conversation's new messages are appended. A
// conversation newly assigned to the agent, or queued for the team, is announced, and the inbox refreshed when
// no conversation is open; so it is after a `resync` (the server lost live events for a moment; the messages
// it sends again itself; with a conversation open, a note only: a reply may be half typed). The tools
// (priority, labels, assignment, saved replies, snooze) are socket commands. Keys: Ctrl+Enter sends, Alt+R
// resolves, Alt+P sets pending, Alt+S snoozes, Alt+T takes, Alt+N toggles a private note, Alt+L edits labels,
// Alt+J / Alt+K move down / up the inbox.
(function () {
  "use strict";
  var console_ = document.querySelector("[data-testid=console]");
  if (!console_ || !window.WebSocket) { return; }
  var cid = console_.dataset.conversation || null;
  var after = Number(console_.dataset.after || 0);
  var timeline = document.querySelector("[data-testid=timeline]");
  var note = document.getElementById("live-note");
  var form = document.querySelector("[data-testid=composer]");
  var socket = null, retry = 500;

  function append(m) {
    if (!timeline || m.conversation_id !== cid || m.seq <= after) { return; }
    after = m.seq;
    var li = document.createElement("li");
    li.className = "m " + m.kind; li.dataset.seq = m.seq;
    var who = document.createElement("span"); who.className = "who"; who.textContent = m.author || "Visitor";
    li.appendChild(who);
    var file = m.data && m.data.attachment;
    if (file) {
      var a = document.createElement("a"); a.href = "/api/v1/support/attachments/" + file.id; a.target = "_blank";
      if (file.image) { var img = document.createElement("img"); img.src = a.href; img.alt = file.name; img.className = "preview"; a.appendChild(img); }
      else { a.textContent = file.name; }
      li.appendChild(a);
    } else { li.appendChild(document.createTextNode(" " + m.body)); }
    timeline.appendChild(li);
    li.scrollIntoView({block: "nearest"});
  }
  var waiting = [];  // commands given before the socket was open: sent as soon as it is
  function send(command) {
    if (socket && socket.readyState === 1) { socket.send(JSON.stringify(command)); } else { waiting.push(command); }
  }
  function connect() {
    socket = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws/agent");
    socket.onopen = function () {
      if (cid) {
        socket.send(JSON.stringify({type: "join", conversation_id: cid, after: after}));
        if (after > 0 && document.visibilityState === "visible") {  // what the page shows, read
          socket.send(JSON.stringify({type: "read", conversation_id: cid, seq: after}));
        }
      }
      while (waiting.length) { socket.send(JSON.stringify(waiting.shift())); }
    };
    socket.onmessage = function (e) {
      var ev = JSON.parse(e.data);
      if (ev.type === "hello") { retry = 500; }  // (greeted, not merely opened: a refused socket opens too)
      else if (ev.type === "message") {
        var fresh = ev.conversation_id === cid && ev.seq > after;  // (not one the page showed already)
        append(ev);
        var moved = fresh && ev.kind === "event" && ev.data && ev.data.status;
        if (moved) {  // the moves the new status allows
          document.querySelectorAll(".actions [data-from]").forEach(function (el) {
            el.hidden = el.dataset.from.split(" ").indexOf(ev.data.status) < 0;
          });
        }
        if (ev.kind === "inbound" && ev.conversation_id === cid && document.visibilityState === "visible") {
          send({type: "read", conversation_id: cid, seq: ev.seq});  // the agent has it in front of them
        }
      }
      else if (ev.type === "read" && ev.who === "visitor" && ev.conversation_id === cid) {
        note.textContent = console_.dataset.read;
      }
      else if (ev.type === "error") { note.textContent = ev.detail; }  // a refused command, said
      else if (ev.type === "assigned") {
        note.textContent = "↻ " + ev.conversation_id;
        if (!cid) { location.href = "/agent?view=mine&c=" + ev.conversation_id; }
      } else if (ev.type === "queued") {  // a conversation of the team waits for an agent with room
        note.textContent = console_.dataset.queued;
        var field = document.activeElement;  // a filter or a label half typed: the inbox waits for the next visit
        var busy = field && /^(INPUT|TEXTAREA)$/.test(field.tagName) && field.value !== field.defaultValue;
        if (!cid && !busy) { setTimeout(function () { location.reload(); }, 300 + Math.random() * 1500); }
      } else if (ev.type === "typing" && ev.who === "visitor") { note.textContent = "…"; }
      else if (ev.type === "resync") {  // live events were missed (the messages the server sends again itself)
        if (cid) { note.textContent = "↻"; }  // a reply may be half typed: the inbox waits for the next visit
        else { setTimeout(function () { location.reload(); }, Math.random() * 3000); }  // not all at once
      }
    };
    socket.onclose = function () { setTimeout(connect, retry); retry = Math.min(retry * 2, 10000); };
  }
  connect();
  document.addEventListener("visibilitychange", function () {  // back on the tab: what it shows, read
    if (cid && after > 0 && document.visibilityState === "visible") {
      send({type: "read", conversation_id: cid, seq: after});
    }
  });
  if (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = form.elements.body.value.trim();
      if (!body) { return; }
      send({type: "message", conversation_id: cid, body: body, private: form.elements["private"].checked});
      form.elements.body.value = "";
    });
    form.elements.body.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
    });
  }
  var picker = document.getElementById("f-file");
  if (picker) {
    picker.addEventListener("change", function () {
      var file = picker.files && picker.files[0];
      if (!file || !cid) { return; }
      fetch("/api/v1/support/attachments?name=" + encodeURIComponent(file.name) + "&conversation_id=" + cid, {
        method: "POST", credentials: "same-origin", body: file,
        headers: {"X-CSRF-Token": picker.dataset.csrf, "Content-Type": "application/octet-stream"}
      }).then(function (r) { return r.json().then(function (d) { if (!r.ok) { note.textContent = d.detail; } }); });
      picker.value = "";
    });
  }
  document.querySelectorAll("[data-command]").forEach(function (b) {
    b.addEventListener("click", function () {
      send({type: b.dataset.command, conversation_id: cid, status: b.dataset.status});
      if (b.dataset.command === "take") { b.remove(); }
    });
  });
  var presence = document.querySelector("[data-testid=presence]");
  if (presence) {
    presence.addEventListener("change", function () { send({type: "presence", status: presence.value}); });
  }
  var priority = document.querySelector("[data-testid=priority]");
  if (priority) {
    priority.addEventListener("change", function () {
      send({type: "priority", conversation_id: cid, priority: priority.value});
    });
  }
  var labels = document.querySelector("form[data-testid=labels]");
  if (labels) {
    labels.addEventListener("submit", function (e) {
      e.preventDefault();
      var list = labels.elements.labels.value.split(",").map(function (s) { return s.trim(); })
        .filter(function (s) { return s.length > 0; });
      send({type: "labels", conversation_id: cid, labels: list});
    });
  }
  var assign = document.querySelector("form[data-testid=assign]");
  if (assign) {
    assign.addEventListener("submit", function (e) {
      e.preventDefault();
      send({type: "assign", conversation_id: cid, agent_id: assign.elements.agent_id.value});
    });
  }
  var snooze = document.querySelector("form[data-testid=snooze]");
  function snoozeFor() {  // until now + the hours chosen, as an ISO 8601 time in UTC
    var hours = Number(snooze.elements.hours.value);
    send({type: "status", conversation_id: cid, status: "snoozed",
          until: new Date(Date.now() + hours * 3600 * 1000).toISOString()});
  }
  if (snooze) {
    snooze.addEventListener("submit", function (e) { e.preventDefault(); snoozeFor(); });
  }
  var canned = document.querySelector("[data-testid=canned]");
  var cannedSend = document.querySelector("[data-testid=canned-send]");
  if (canned && cannedSend) {
    cannedSend.addEventListener("click", function () {
      if (!canned.value) { canned.focus(); return; }
      send({type: "canned", conversation_id: cid, shortcut: canned.value});
      canned.value = "";
    });
  }
  function move(step) {  // the next / previous conversation of the inbox
    var links = Array.prototype.slice.call(document.querySelectorAll("[data-testid=inbox] a"));
    if (!links.length) { return; }
    var at = links.findIndex(function (a) { return a.getAttribute("aria-current") === "true"; });
    var next = links[Math.max(0, Math.min(links.length - 1, at < 0 ? 0 : at + step))];
    if (next) { location.href = next.href; }
  }
  document.addEventListener("keydown", function (e) {
    if (!e.altKey) { return; }
    var key = e.key.toLowerCase();
    if (key === "j") { e.preventDefault(); move(1); return; }
    if (key === "k") { e.preventDefault(); move(-1); return; }
    if (!cid) { return; }
    if (key === "r") { send({type: "status", conversation_id: cid, status: "resolved"}); }
    else if (key === "p") { send({type: "status", conversation_id: cid, status: "pending"}); }
    else if (key === "t") { send({type: "take", conversation_id: cid}); }
    else if (key === "s" && snooze) { snoozeFor(); }
    else if (key === "n" && form) { form.elements["private"].checked = !form.elements["private"].checked; }
    else if (key === "l" && labels) { labels.elements.labels.focus(); }
    else { return; }
    e.preventDefault();
  });
})();
