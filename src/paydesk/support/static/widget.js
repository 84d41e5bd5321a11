/* Paydesk chat widget. Include with <script src="https://your-paydesk/widget.js" defer></script>: it draws a
   bubble in the bottom-right corner and a chat panel, in Chinese or English by the page's language, inside a
   shadow root so that the host page's styles don't reach it (nor its styles the page). Protocol:
   docs/chat-protocol.md. */
(function () {
  "use strict";
  if (window.__paydeskWidget) { return; }
  window.__paydeskWidget = true;
  var script = document.currentScript;
  var origin = script ? new URL(script.src, location.href).origin : location.origin;
  var zh = /^zh/i.test(document.documentElement.lang || navigator.language || "");
  var T = zh ? {
    open: "在线客服", title: "Paydesk 在线客服", placeholder: "请输入您的问题…", send: "发送", close: "关闭",
    hello: "您好！请描述您的问题，客服人员会尽快回复。", you: "您", offline: "连接中断，正在重新连接…",
    suggest: "这些文章也许有帮助：", typing: "客服正在输入…", assigned: "客服 {name} 为您服务",
    nobody: "现在没有客服在线。请留下邮箱，我们会把回复发到您的邮箱。", email: "您的邮箱", leave: "留下邮箱",
    thanks: "好的，客服回复后会同时发到您的邮箱。", rate: "这次服务您满意吗？", rated: "谢谢您的评价！",
    comment: "还有什么想告诉我们的？（可选）", helped: "问题解决了", agent: "联系客服",
    transcript: "发送聊天记录副本", mailIt: "发送记录", mailed: "聊天记录已发送到您的邮箱。", seen: "客服已读",
    glad: "太好了！如还有其他问题，随时在这里留言。",
    status: {pending: "客服在等待您的回复", resolved: "问题已标记为解决，如有需要请继续留言", open: "会话已重新打开",
             closed: "会话已结束；再发消息将开始新的会话"}
  } : {
    open: "Chat with us", title: "Paydesk support", placeholder: "Type your question…", send: "Send", close: "Close",
    hello: "Hello! Tell us what you need and an agent will answer shortly.", you: "You",
    offline: "Connection lost, reconnecting…", suggest: "These articles may help:", typing: "An agent is typing…",
    assigned: "{name} is here to help", nobody: "Nobody is online right now. Leave your email and we'll answer there.",
    email: "Your email", leave: "Leave my email", thanks: "Thanks: replies will also come to your email.",
    rate: "How did we do?", rated: "Thank you for your rating!", comment: "Anything else to tell us? (optional)",
    helped: "That answers it", agent: "Ask an agent", glad: "Glad it helped! Write here any time you need us.",
    transcript: "Send me a copy of this chat", mailIt: "Send the chat", mailed: "The chat is on its way to your inbox.",
    seen: "Seen by the agent",
    status: {pending: "The agent is waiting for your reply",
    resolved: "Marked as solved; write again if you need more help", open: "The conversation is open again",
    closed: "This conversation is closed; writing again starts a new one"}
  };
  var host = document.createElement("div");
  host.setAttribute("data-paydesk-widget", "");
  var root = host.attachShadow({mode: "open"});
  root.innerHTML =
    "<style>" +
    ":host{all:initial}" +
    ".panel,.bubble{font-size:14px;line-height:1.4;font-weight:400;color:#111;text-align:left;letter-spacing:normal}" +
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Noto Sans CJK SC','PingFang SC',sans-serif}" +
    ".bubble{position:fixed;right:20px;bottom:20px;width:60px;height:60px;border-radius:50%;border:0;" +
    "background:#1d4ed8;color:#fff;font-size:26px;cursor:pointer;box-shadow:0 6px 18px rgba(0,0,0,.25);z-index:2147483000}" +
    ".panel{position:fixed;right:20px;bottom:92px;width:min(360px,calc(100vw - 40px));height:min(520px,calc(100vh - 120px));" +
    "background:#fff;color:#111;border-radius:14px;box-shadow:0 10px 30px rgba(0,0,0,.25);display:none;flex-direction:column;" +
    "overflow:hidden;z-index:2147483000}" +
    ".panel.open{display:flex}" +
    "header{background:#1d4ed8;color:#fff;padding:12px 14px;display:flex;justify-content:space-between;align-items:center;font-weight:600;font-size:16px}" +
    "header button{background:transparent;border:0;color:#fff;font-size:20px;cursor:pointer}" +
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f8fafc}" +
    ".msg{max-width:80%;padding:8px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word;font-size:14px;line-height:1.4}" +
    ".in{align-self:flex-end;background:#1d4ed8;color:#fff}.out{align-self:flex-start;background:#fff;border:1px solid #e2e8f0}" +
    ".event,.note{align-self:center;color:#64748b;font-size:12px}" +
    ".who{display:block;font-size:11px;opacity:.75;margin-bottom:2px}" +
    "form{display:flex;gap:6px;padding:10px;border-top:1px solid #e2e8f0}" +
    "input{flex:1;padding:9px;border:1px solid #cbd5e1;border-radius:8px;font-size:14px;color:#111;background:#fff}" +
    ".bubble svg{width:28px;height:28px;fill:#fff;vertical-align:middle}" +
    ".clip{display:flex;align-items:center;padding:0 10px;border:1px solid #cbd5e1;border-radius:8px;cursor:pointer;font-size:18px}" +
    "form button{padding:9px 14px;border:0;border-radius:8px;background:#1d4ed8;color:#fff;cursor:pointer}" +
    ".choice{display:flex;gap:6px;margin-top:8px;justify-content:center}" +
    ".choice button{padding:6px 10px;border:1px solid #1d4ed8;border-radius:8px;background:#fff;color:#1d4ed8;cursor:pointer;font-size:13px}" +
    ".status{font-size:12px;color:#64748b;padding:0 12px 6px;min-height:1em;background:#f8fafc}" +
    "</style>" +
    "<button class='bubble' part='bubble' aria-expanded='false'></button>" +
    "<section class='panel' role='dialog'><header><span class='title'></span><span><button class='mail'>✉</button><button class='close'>×</button></span></header>" +
    "<div class='log' role='log' aria-live='polite'></div><div class='status'></div>" +
    "<form><label class='clip' title='+'><input type='file' accept='image/png,image/jpeg,image/gif,image/webp,application/pdf' hidden>+</label>" +
    "<input name='body' autocomplete='off' maxlength='5000'><button type='submit'></button></form></section>";
  var bubble = root.querySelector(".bubble"), panel = root.querySelector(".panel"), log = root.querySelector(".log");
  var status = root.querySelector(".status"), form = root.querySelector("form"), input = root.querySelector("input[name=body]");
  var picker = root.querySelector("input[type=file]");
  bubble.innerHTML = "<svg viewBox='0 0 24 24' aria-hidden='true'><path d='M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z'/></svg>";
  bubble.setAttribute("aria-label", T.open); bubble.title = T.open;
  root.querySelector(".title").textContent = T.title;
  root.querySelector(".close").setAttribute("aria-label", T.close);
  root.querySelector(".mail").setAttribute("aria-label", T.transcript); root.querySelector(".mail").title = T.transcript;
  panel.setAttribute("aria-label", T.title);
  input.placeholder = T.placeholder; input.setAttribute("aria-label", T.placeholder);
  root.querySelector("form button").textContent = T.send;

  var KEY = "paydesk.visitor", SEQ = "paydesk.seq";
  var socket = null, lastSeq = Number(localStorage.getItem(SEQ) || 0), seen = {}, retry = 500, suggested = false;
  // What the visitor sent before the server greeted this socket: sent once it has (a socket refused its chat,
  // a shared browser's, is greeted with an error instead, and what waits goes to the next one).
  var waiting = [], greeted = false;
  function send(command) {
    if (socket && greeted && socket.readyState === 1) { socket.send(JSON.stringify(command)); }
    else { waiting.push(command); }
  }

  function line(kind, text, who, attachment) {
    var div = document.createElement("div");
    div.className = "msg " + kind;
    if (who) { var w = document.createElement("span"); w.className = "who"; w.textContent = who; div.appendChild(w); }
    if (attachment) {
      var url = origin + "/api/v1/support/attachments/" + attachment.id + "?visitor_token=" +
        encodeURIComponent(localStorage.getItem(KEY) || "");
      var a = document.createElement("a"); a.href = url; a.target = "_blank"; a.rel = "noopener";
      if (attachment.image) {
        var img = document.createElement("img"); img.src = url; img.alt = attachment.name;
        img.style.maxWidth = "100%"; img.style.borderRadius = "6px"; a.appendChild(img);
      } else { a.textContent = "📄 " + attachment.name; }
      div.appendChild(a);
    } else { div.appendChild(document.createTextNode(text)); }
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
  }
  function token() {
    var known = localStorage.getItem(KEY);
    if (known) { return Promise.resolve(known); }
    return fetch(origin + "/api/v1/support/visitors", {method: "POST"})
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (d) { localStorage.setItem(KEY, d.visitor_token); return d.visitor_token; });
  }
  var CONV = "paydesk.conversation";  // the conversation the stored number belongs to
  var conversation = localStorage.getItem(CONV);  // this page's (another tab may move the stored one on)
  function forget() {  // the numbers of a chat that is not this browser's any more (or not the current one)
    lastSeq = 0; seen = {}; readSent = 0; localStorage.setItem(SEQ, "0");
    waiting = waiting.filter(function (c) { return c.type === "message"; });  // (not a rating, a receipt…)
    var rate = root.querySelector(".rate"); if (rate) { rate.remove(); }
  }
  var connecting = false;  // (one socket at a time: the panel can open and close before the token comes)
  function connect() {
    if (connecting) { return; }
    connecting = true;
    token().then(function (t) {
      var url = origin.replace(/^http/, "ws") + "/ws/chat?visitor_token=" + encodeURIComponent(t) + "&after=" + lastSeq;
      var ws = socket = new WebSocket(url);
      ws.onopen = function () { status.textContent = ""; };
      ws.onmessage = function (e) {
        var ev = JSON.parse(e.data);
        if (ev.type === "hello") {
          if (conversation !== ev.conversation_id || ev.last_seq < lastSeq) {
            forget();  // a new conversation: its own numbers
            conversation = ev.conversation_id; localStorage.setItem(CONV, conversation);
          }
          greeted = true; retry = 500;  // (greeted, not merely opened: a refused socket opens too)
          while (waiting.length) { ws.send(JSON.stringify(waiting.shift())); }
          if (!ev.agents_online && !ev.assigned && !ev.email) { askEmail(); }
          markRead();
          return;
        }
        if (ev.type === "message") {
          if (seen[ev.seq] || ev.seq <= lastSeq && lastSeq && seen[lastSeq]) { return; }
          seen[ev.seq] = true; lastSeq = Math.max(lastSeq, ev.seq); localStorage.setItem(SEQ, String(lastSeq));
          var file = ev.data && ev.data.attachment;
          if (ev.kind === "inbound") {
            line("in", ev.body, T.you, file);
            if (status.textContent === T.seen) { status.textContent = ""; }  // (seen: what came before)
          }
          else if (ev.kind === "outbound") { line("out", ev.body, ev.author, file); status.textContent = ""; markRead(); }
          else if (ev.kind === "event") {
            var d = ev.data || {};
            if (d.assignee) { line("event", T.assigned.replace("{name}", ev.author)); }
            else if (d.status && T.status[d.status]) {
              line("event", T.status[d.status]);
              if (d.status === "resolved") { askRating(); }
              if (d.status === "closed") { ws.close(); }  // the next socket opens a new conversation
            } else if (d.csat) { line("event", T.rated); }
          }
        } else if (ev.type === "transcript_sent") { line("event", T.mailed); }
        else if (ev.type === "read" && ev.who !== "visitor") { status.textContent = T.seen; }
        else if (ev.type === "typing" && ev.who !== "visitor") { status.textContent = T.typing; }
        else if (ev.type === "error") {
          status.textContent = ev.detail;
          if (ev.code === "chat_of_another_account" || (!greeted && ev.code === "invalid_request")) {
            // another account's chat (a shared browser), or a token the server doesn't take: a new chat
            localStorage.removeItem(KEY); localStorage.removeItem(CONV); conversation = null; forget();
          }
        }
      };
      ws.onclose = function () {
        greeted = false;
        status.textContent = T.offline;
        later();
      };
    }).catch(later);  // no token (offline): try again
  }
  function later() {  // the next try, each one waiting twice as long (10 s at most) until a socket is greeted
    connecting = false;
    setTimeout(connect, retry); retry = Math.min(retry * 2, 10000);
  }
  function askRating() {
    if (root.querySelector(".rate")) { return; }
    var f = document.createElement("form"); f.className = "rate";
    var label = document.createElement("span"); label.textContent = T.rate; f.appendChild(label);
    var c = document.createElement("input"); c.placeholder = T.comment; c.setAttribute("aria-label", T.comment);
    [1, 2, 3, 4, 5].forEach(function (n) {
      var b = document.createElement("button"); b.type = "button"; b.textContent = "★" + n;
      b.setAttribute("aria-label", n + "/5");
      b.addEventListener("click", function () {
        send({type: "csat", score: n, comment: c.value.trim()}); f.remove();
      });
      f.appendChild(b);
    });
    f.appendChild(c);
    log.appendChild(f);
  }
  var readSent = 0;  // the last number this visitor said they have read
  function markRead() {  // a read receipt for what the open panel shows, once per new message
    if (panel.classList.contains("open") && document.visibilityState === "visible" && lastSeq > readSent) {
      readSent = lastSeq; send({type: "read", seq: lastSeq});
    }
  }
  function askTranscript() {  // the chat so far, by email, to the address the visitor gives
    var open = root.querySelector(".transcript");
    if (open) { open.querySelector("input").focus(); return; }
    var f = document.createElement("form"); f.className = "transcript";
    var i = document.createElement("input"); i.type = "email"; i.placeholder = T.email; i.setAttribute("aria-label", T.email);
    var b = document.createElement("button"); b.type = "submit"; b.textContent = T.mailIt;
    f.appendChild(i); f.appendChild(b);
    log.appendChild(f); i.focus();
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!i.value.trim()) { return; }
      send({type: "transcript", address: i.value.trim(), locale: zh ? "zh-CN" : "en"});
      f.remove();
    });
  }
  function askEmail() {
    if (root.querySelector(".leave")) { return; }
    line("event", T.nobody);
    var f = document.createElement("form"); f.className = "leave";
    var i = document.createElement("input"); i.type = "email"; i.placeholder = T.email; i.setAttribute("aria-label", T.email);
    var b = document.createElement("button"); b.type = "submit"; b.textContent = T.leave;
    f.appendChild(i); f.appendChild(b);
    log.appendChild(f);
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!i.value.trim()) { return; }
      send({type: "email", address: i.value.trim(), locale: zh ? "zh-CN" : "en"});
      f.remove(); line("event", T.thanks);
    });
  }
  // Help-center articles for what the visitor typed. The first question of a new chat waits for them: with
  // articles found, it goes to an agent only when the visitor asks for one (or writes again); with none, or
  // no answer from the search, at once. Later, articles are suggested once beside the chat, not before it.
  var held = null;  // {text, line, choice}: the first question, while its articles are offered
  function articles(text) {
    return fetch(origin + "/api/v1/help/search?q=" + encodeURIComponent(text.slice(0, 200)) + "&locale=" +
                 (zh ? "zh-CN" : "en"))
      .then(function (r) { return r.json(); })
      .then(function (d) {
        if (!d.items || !d.items.length) { return null; }
        var div = document.createElement("div"); div.className = "msg event"; div.textContent = T.suggest;
        d.items.slice(0, 3).forEach(function (a) {
          var link = document.createElement("a"); link.href = origin + a.url; link.target = "_blank";
          link.textContent = a.title; div.appendChild(document.createElement("br")); div.appendChild(link);
        });
        log.appendChild(div);
        return div;
      });
  }
  function release() {  // the held question to the agents (its local line gives way to the server's copy)
    if (!held) { return; }
    var h = held; held = null;
    h.line.remove(); if (h.choice) { h.choice.remove(); }
    send({type: "message", body: h.text});
  }
  function ask(text) {
    if (held) { release(); send({type: "message", body: text}); return; }
    if (suggested) { send({type: "message", body: text}); return; }
    suggested = true;
    if (lastSeq > 0) {  // a chat under way: the articles beside it
      articles(text).catch(function () {});
      send({type: "message", body: text});
      return;
    }
    line("in", text, T.you);
    held = {text: text, line: log.lastChild, choice: null};
    articles(text).then(function (div) {
      if (!held) { return; }
      if (!div) { release(); return; }
      var choice = document.createElement("div"); choice.className = "choice";
      [[T.helped, function () { held.line.classList.add("kept"); held = null; choice.remove(); line("event", T.glad); }],
       [T.agent, release]].forEach(function (c) {
        var b = document.createElement("button"); b.type = "button"; b.textContent = c[0];
        b.addEventListener("click", c[1]); choice.appendChild(b);
      });
      div.appendChild(choice); held.choice = choice;
    }).catch(release);
  }
  bubble.addEventListener("click", function () {
    var open = panel.classList.toggle("open");
    bubble.setAttribute("aria-expanded", String(open));
    if (open && !socket && !connecting) { line("event", T.hello); connect(); }
    if (open) { input.focus(); markRead(); }
  });
  root.querySelector(".mail").addEventListener("click", askTranscript);
  document.addEventListener("visibilitychange", markRead);  // a tab brought back: what it shows, read
  root.querySelector(".close").addEventListener("click", function () {
    panel.classList.remove("open"); bubble.setAttribute("aria-expanded", "false"); bubble.focus();
  });
  picker.addEventListener("change", function () {
    var file = picker.files && picker.files[0];
    if (!file) { return; }
    token().then(function (t) {
      return fetch(origin + "/api/v1/support/attachments?name=" + encodeURIComponent(file.name),
                   {method: "POST", headers: {"X-Visitor-Token": t, "Content-Type": "application/octet-stream"}, body: file});
    }).then(function (r) { return r.json().then(function (d) { if (!r.ok) { status.textContent = d.detail; } }); })
      .catch(function () {});
    picker.value = "";
  });
  var typingSent = 0;
  input.addEventListener("input", function () {
    if (socket && greeted && socket.readyState === 1 && Date.now() - typingSent > 2000) {
      typingSent = Date.now(); socket.send(JSON.stringify({type: "typing"}));
    }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    ask(text);
    input.value = "";
  });
  (document.body || document.documentElement).appendChild(host);
})();
