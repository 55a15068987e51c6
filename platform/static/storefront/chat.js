/* 客服 (storefront/chat.html): send without reload, receive over server-sent events, fall back
   to polling when EventSource fails. Messages are drawn with textContent: never as HTML. Every
   message has an id; one already shown is never drawn twice (the stream, the send answer and the
   poll may bring the same one). */
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root) return;
  var list = document.getElementById("chat-list");
  var last = parseInt(root.getAttribute("data-after"), 10) || 0;
  var shown = {};
  Array.prototype.forEach.call(list.querySelectorAll("[data-id]"), function (li) { shown[li.getAttribute("data-id")] = true; });

  function scrollDown() { list.scrollTop = list.scrollHeight; }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  function draw(m) {
    if (shown[m.id]) return false;
    shown[m.id] = true;
    last = Math.max(last, m.id);
    var empty = document.getElementById("chat-empty");
    if (empty) empty.remove();
    var li = el("li", "chat-msg " + (m.mine ? "mine" : "theirs") + (m.sender === "auto" ? " auto" : ""));
    li.setAttribute("data-id", m.id);
    if (m.order) {
      var card = el("a", "chat-order");
      card.href = m.order.url;
      card.appendChild(el("span", null, root.getAttribute("data-order-label") + " " + m.order.number));
      card.appendChild(el("span", null, m.order.status + " · ¥" + m.order.total));
      li.appendChild(card);
    }
    li.appendChild(el("p", "chat-text", m.text));
    li.appendChild(el("small", "chat-time", (m.sender === "auto" ? root.getAttribute("data-auto-label") + " · " : "") + m.time));
    list.appendChild(li);
    return true;
  }

  var readTimer = null;
  function markRead() {
    if (readTimer) return;
    readTimer = setTimeout(function () {
      readTimer = null;
      var form = document.getElementById("chat-form");
      var body = new FormData();
      body.append("csrf_token", form.querySelector("[name=csrf_token]").value);
      fetch(root.getAttribute("data-read"), { method: "POST", body: body, credentials: "same-origin" }).catch(function () {});
    }, 400);
  }

  function receive(messages) {
    var theirs = false;
    messages.forEach(function (m) { if (draw(m) && !m.mine) theirs = true; });
    if (messages.length) scrollDown();
    if (theirs) markRead();
  }

  // -- sending ------------------------------------------------------------------------------
  Array.prototype.forEach.call(document.querySelectorAll("[data-chat-form]"), function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      var error = document.getElementById("chat-error");
      button.disabled = true;
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (answer) {
        if (!answer.ok) {
          var fields = (answer.data && answer.data.fields) || {};
          var first = fields.text || fields.order;
          error.textContent = first ? first.message : (answer.data.message || root.getAttribute("data-failed"));
          error.hidden = false;
          return;
        }
        error.hidden = true;
        receive(answer.data.messages || []);
        if (form.id === "chat-form") { form.querySelector("textarea").value = ""; }
        else { form.remove(); }
      }).catch(function () {
        error.textContent = root.getAttribute("data-failed");
        error.hidden = false;
      }).then(function () { button.disabled = false; });
    });
  });
  var text = document.getElementById("chat-text");
  text.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      document.getElementById("chat-form").requestSubmit();
    }
  });

  // -- receiving ----------------------------------------------------------------------------
  var polling = null;
  function poll() {
    if (polling) return;
    polling = setInterval(function () {
      fetch(root.getAttribute("data-poll") + "?after=" + last, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { messages: [] }; })
        .then(function (data) { receive(data.messages || []); })
        .catch(function () {});
    }, 3000);
  }
  if (window.EventSource) {
    var source = new EventSource(root.getAttribute("data-stream") + "?after=" + last);
    source.addEventListener("message", function (event) { receive([JSON.parse(event.data)]); });
    source.addEventListener("error", function () {
      // the server ends each answer after ~25 s and the browser reconnects by itself
      // (CONNECTING); CLOSED means it gave up: poll instead
      if (source.readyState === EventSource.CLOSED) poll();
    });
    root.setAttribute("data-live", "sse");
  } else {
    poll();
    root.setAttribute("data-live", "poll");
  }
  scrollDown();
})();
