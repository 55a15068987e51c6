// The group page's invite button (progressive enhancement: without script the page shows the
// link to copy by hand). Inside WeChat it points at the menu's own share (wechat-share.js gives
// WeChat the page's #gb-share-data through a signed wx.config); elsewhere it copies the link
// (Clipboard API, else a selected text field) and says so, or shows the link to copy when
// neither works.
(function () {
  "use strict";
  var doc = document, root = doc.documentElement;
  root.classList.add("js");
  if (/MicroMessenger/i.test(navigator.userAgent)) { root.classList.add("wechat"); }

  function readJson(id) {
    var el = doc.getElementById(id);
    if (!el) { return null; }
    try { return JSON.parse(el.textContent); } catch (error) { return null; }
  }
  var texts = readJson("gb-texts") || {};
  var data = readJson("gb-share-data");

  function toast(message) {
    var el = doc.getElementById("gb-toast");
    if (!el) {
      el = doc.createElement("div");
      el.id = "gb-toast";
      el.className = "sf-toast";
      el.setAttribute("role", "status");
      doc.body.appendChild(el);
    }
    el.textContent = message;
    el.classList.add("show");
    clearTimeout(el.hideTimer);
    el.hideTimer = setTimeout(function () { el.classList.remove("show"); }, 2400);
  }

  function copyByHand(link) {
    var field = doc.createElement("textarea");
    field.value = link;
    field.setAttribute("readonly", "");
    field.className = "sf-copy-field";
    doc.body.appendChild(field);
    field.select();
    var copied = false;
    try { copied = doc.execCommand("copy"); } catch (error) { copied = false; }
    field.remove();
    return copied;
  }

  function showLink(link) {
    var box = doc.getElementById("gb-share-box");
    if (!box) {
      box = doc.createElement("div");
      box.id = "gb-share-box";
      box.className = "sf-share-box";
      box.setAttribute("role", "dialog");
      var label = doc.createElement("p");
      label.textContent = texts.copy_by_hand || "";
      var field = doc.createElement("input");
      field.type = "text";
      field.readOnly = true;
      var done = doc.createElement("button");
      done.type = "button";
      done.textContent = texts.close || "OK";
      done.addEventListener("click", function () { box.hidden = true; });
      box.appendChild(label);
      box.appendChild(field);
      box.appendChild(done);
      doc.body.appendChild(box);
    }
    var input = box.querySelector("input");
    input.value = link;
    box.hidden = false;
    input.focus();
    input.select();
  }

  function wechatHint() {
    var hint = doc.getElementById("gb-wechat-hint");
    if (!hint) {
      hint = doc.createElement("div");
      hint.id = "gb-wechat-hint";
      hint.className = "sf-wechat-hint";
      hint.setAttribute("role", "dialog");
      var arrow = doc.createElement("span");
      arrow.className = "sf-wechat-arrow";
      arrow.setAttribute("aria-hidden", "true");
      var message = doc.createElement("p");
      message.textContent = texts.wechat_share || "";
      var done = doc.createElement("button");
      done.type = "button";
      done.textContent = texts.got_it || "OK";
      hint.appendChild(arrow);
      hint.appendChild(message);
      hint.appendChild(done);
      hint.addEventListener("click", function () { hint.hidden = true; });
      doc.body.appendChild(hint);
    }
    hint.hidden = false;
    hint.querySelector("button").focus();
  }

  function invite() {
    if (root.classList.contains("wechat")) { wechatHint(); return; }
    var link = (data && data.link) || window.location.href;
    var done = function (copied) {
      if (copied) { toast(texts.copied || link); } else { showLink(link); }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(link).then(function () { done(true); }, function () { done(copyByHand(link)); });
    } else {
      done(copyByHand(link));
    }
  }

  function start() {
    var button = doc.getElementById("gb-invite");
    if (button) { button.addEventListener("click", invite); }
  }
  if (doc.readyState === "loading") { doc.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
