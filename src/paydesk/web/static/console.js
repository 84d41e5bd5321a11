// The agent console, live: one /ws/agent connection; the open conversation's new messages are appended,
// a newly assigned conversation is announced (and the inbox refreshed). Ctrl+Enter sends, Alt+R resolves,
// Alt+P sets pending.
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
      retry = 500;
      if (cid) { socket.send(JSON.stringify({type: "join", conversation_id: cid, after: after})); }
      while (waiting.length) { socket.send(JSON.stringify(waiting.shift())); }
    };
    socket.onmessage = function (e) {
      var ev = JSON.parse(e.data);
      if (ev.type === "message") { append(ev); }
      else if (ev.type === "assigned") {
        note.textContent = "↻ " + ev.conversation_id;
        if (!cid) { location.href = "/agent?view=mine&c=" + ev.conversation_id; }
      } else if (ev.type === "typing" && ev.who === "visitor") { note.textContent = "…"; }
    };
    socket.onclose = function () { setTimeout(connect, retry); retry = Math.min(retry * 2, 10000); };
  }
  connect();
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
  document.addEventListener("keydown", function (e) {
    if (!cid || !e.altKey) { return; }
    if (e.key === "r" || e.key === "R") { send({type: "status", conversation_id: cid, status: "resolved"}); }
    if (e.key === "p" || e.key === "P") { send({type: "status", conversation_id: cid, status: "pending"}); }
  });
})();
