/* The shopper's order pages (order, order list, cashier, payment result). Progressive: every page
   is complete without this file (the countdown is rendered by the server, the buttons are links
   and forms). With it:
   - [data-countdown="<seconds>"] ticks down; with data-reload, the page reloads once at zero (the
     order has closed, or is about to: the server says which);
   - [data-copy] copies its value (复制 the order number);
   - #handoff after 确认支付: data-handoff="url" opens the provider's page (WeChat Pay H5);
     data-handoff="jsapi" opens WeChat's payment sheet with data-params (WeixinJSBridge inside
     WeChat, or wx.chooseWXPay when the JS-SDK is on the page), then goes to data-done, where the
     server checks the payment (the sheet's "ok" is not proof of payment). */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");

  function clock(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    var mm = (m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return h ? h + ":" + mm + ":" + ss : mm + ":" + ss;
  }

  function countdowns() {
    var started = Date.now();
    var items = Array.prototype.slice.call(document.querySelectorAll("[data-countdown]")).map(function (el) {
      return {el: el, left: parseInt(el.getAttribute("data-countdown"), 10) || 0, reload: el.hasAttribute("data-reload")};
    });
    if (!items.length) { return; }
    var reloaded = false;
    function tick() {
      var passed = Math.floor((Date.now() - started) / 1000);
      items.forEach(function (item) {
        var left = Math.max(0, item.left - passed);
        item.el.textContent = clock(left);
        if (left === 0 && item.reload && item.left > 0 && !reloaded) {
          reloaded = true;
          window.setTimeout(function () { window.location.reload(); }, 1500);
        }
      });
    }
    tick();
    window.setInterval(tick, 1000);
  }

  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var value = button.getAttribute("data-copy"), label = button.textContent;
        function done() {
          button.textContent = button.getAttribute("data-copied") || label;
          window.setTimeout(function () { button.textContent = label; }, 1500);
        }
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(value).then(done, fallback);
        } else {
          fallback();
        }
        function fallback() {
          var field = document.createElement("textarea");
          field.value = value;
          field.setAttribute("readonly", "");
          field.style.position = "fixed";
          field.style.opacity = "0";
          document.body.appendChild(field);
          field.select();
          try { document.execCommand("copy"); done(); } catch (e) { /* nothing to do */ }
          document.body.removeChild(field);
        }
      });
    });
  }

  function handoff() {
    var box = document.getElementById("handoff");
    if (!box) { return; }
    var done = box.getAttribute("data-done");
    if (box.getAttribute("data-handoff") === "url") {
      var url = box.getAttribute("data-url");
      if (url) { window.location.assign(url); }
      return;
    }
    var params;
    try { params = JSON.parse(box.getAttribute("data-params") || "{}"); } catch (e) { return; }
    var status = document.getElementById("handoff-status");
    function say(text) { if (status) { status.textContent = text; status.hidden = !text; } }
    function finished(message) {
      var text = String((message && (message.err_msg || message.errMsg)) || "");
      if (/cancel/i.test(text)) { say(box.getAttribute("data-cancelled") || ""); return; }
      window.location.assign(done);  // ok, or an error: the server looks at the payment itself
    }
    function pay() {
      if (window.WeixinJSBridge && window.WeixinJSBridge.invoke) {
        window.WeixinJSBridge.invoke("getBrandWCPayRequest", {
          appId: params.appId, timeStamp: params.timeStamp, nonceStr: params.nonceStr,
          "package": params["package"], signType: params.signType, paySign: params.paySign
        }, finished);
      } else if (window.wx && window.wx.chooseWXPay) {
        window.wx.chooseWXPay({
          timestamp: params.timeStamp, nonceStr: params.nonceStr, "package": params["package"],
          signType: params.signType, paySign: params.paySign,
          success: finished, cancel: function () { finished({errMsg: "cancel"}); }, fail: finished
        });
      } else {
        return false;
      }
      return true;
    }
    var again = document.getElementById("continue-pay");
    if (again) { again.addEventListener("click", pay); }
    if (!pay()) {
      document.addEventListener("WeixinJSBridgeReady", pay, {once: true});
    }
  }

  function start() { countdowns(); copyButtons(); handoff(); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
