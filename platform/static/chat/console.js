/* The console's 客服 page (console/chat.html): every message of the store arrives over
   server-sent events (polling when EventSource fails); the list moves the conversation to the
   top with its unread count, the open conversation shows the message, an answer is sent without
   reload. Drawn with textContent only. */
(function () {
  "use strict";
  var root = document.getElementById("cs");
  if (!root) return;
  var list = document.getElementById("cs-list");
  var box = document.getElementById("cs-messages");
  var current = parseInt(root.getAttribute("data-current"), 10) || 0;
  var last = parseInt(root.getAttribute("data-after"), 10) || 0;
  var shown = {};
  if (box) Array.prototype.forEach.call(box.querySelectorAll("[data-id]"), function (li) { shown[li.getAttribute("data-id")] = true; });

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }
  function csrf() {
    var input = document.querySelector("#cs [name=csrf_token]") || document.querySelector("[name=csrf_token]");
    return input ? input.value : "";
  }

  var readTimer = null;
  function markRead() {
    var url = root.getAttribute("data-read");
    if (!url || readTimer) return;
    readTimer = setTimeout(function () {
      readTimer = null;
      var body = new FormData();
      body.append("csrf_token", csrf());
      fetch(url, { method: "POST", body: body, credentials: "same-origin" }).catch(function () {});
    }, 400);
  }

  function bubble(m) {
    if (!box || shown[m.id]) return false;
    shown[m.id] = true;
    var li = el("li", "cs-msg " + (m.mine ? "mine" : "theirs") + (m.sender === "auto" ? " auto" : ""));
    li.setAttribute("data-id", m.id);
    if (m.order) {
      var card = el("a", "cs-order", root.getAttribute("data-order-label") + " " + m.order.number + " · " + m.order.status + " · ¥" + m.order.total);
      card.href = m.order.url;
      li.appendChild(card);
    }
    li.appendChild(el("p", "cs-text", m.text));
    li.appendChild(el("small", "muted", (m.sender === "auto" ? root.getAttribute("data-auto-label") + " · " : "") + m.time));
    box.appendChild(li);
    box.scrollTop = box.scrollHeight;
    return true;
  }

  function listRow(c) {
    if (!c || !list) return;
    var none = document.getElementById("cs-none");
    if (none) none.remove();
    var li = list.querySelector('[data-conversation="' + c.id + '"]');
    if (!li) {
      li = el("li");
      li.setAttribute("data-conversation", c.id);
      var a = el("a");
      a.href = root.getAttribute("data-link").replace(/\/chat(\?|$)/, "/chat/" + c.id + "$1");
      var top = el("span", "cs-row");
      top.appendChild(el("b", "cs-name", c.shopper || root.getAttribute("data-shopper-label")));
      top.appendChild(el("small", "muted cs-time"));
      var bottom = el("span", "cs-row");
      bottom.appendChild(el("span", "cs-last"));
      bottom.appendChild(el("b", "cs-unread"));
      a.appendChild(top);
      a.appendChild(bottom);
      li.appendChild(a);
    }
    li.querySelector(".cs-last").textContent = c.last_text;
    li.querySelector(".cs-time").textContent = c.time;
    var unread = li.querySelector(".cs-unread");
    var count = c.id === current ? 0 : c.staff_unread;
    unread.textContent = count;
    unread.hidden = !count;
    list.insertBefore(li, list.firstChild);
  }

  function navBadge(total) {
    var badge = document.getElementById("nav-chat-unread");
    if (!badge || total == null) return;
    badge.textContent = total;
    badge.hidden = !total;
  }

  function receive(messages) {
    var read = false;
    messages.forEach(function (m) {
      last = Math.max(last, m.id);
      listRow(m.conversation);
      if (m.conversation_id === current && bubble(m) && m.sender === "shopper") read = true;
      navBadge(m.unread_total);
    });
    if (read) markRead();
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-cs-form]"), function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      var error = document.getElementById("cs-error");
      button.disabled = true;
      fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.json().then(function (data) { return { ok: response.ok, data: data }; }); })
        .then(function (answer) {
          if (!answer.ok) {
            var fields = (answer.data && answer.data.fields) || {};
            error.textContent = fields.text ? fields.text.message : (answer.data.message || root.getAttribute("data-failed"));
            error.hidden = false;
            return;
          }
          error.hidden = true;
          (answer.data.messages || []).forEach(bubble);
          var text = form.querySelector("textarea");
          if (text) text.value = "";
        })
        .catch(function () { error.textContent = root.getAttribute("data-failed"); error.hidden = false; })
        .then(function () { button.disabled = false; });
    });
  });

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
    source.addEventListener("error", function () { if (source.readyState === EventSource.CLOSED) poll(); });
    root.setAttribute("data-live", "sse");
  } else {
    poll();
    root.setAttribute("data-live", "poll");
  }
  if (box) box.scrollTop = box.scrollHeight;
})();
