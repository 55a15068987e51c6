/* The cashier's WeChat Pay Native (扫码支付) page: the QR code is drawn by the server; this file
   only watches for the payment (no inline script: the CSP allows only this site's files).
   - every 2 s it asks #native-pay's data-status (GET, JSON {paid, state, next}) and goes to `next`
     once the order is paid, or once it expired or closed (the cashier then shows why); every tenth
     time with ?check=1, so the server also asks WeChat Pay in case a notification is late;
   - 我已支付 (#paid-already) asks once with ?check=1: paid → the result page; not yet → a line
     saying so, and the shopper stays on the code. Without this file the button is a link to the
     result page, which asks WeChat Pay itself;
   - while the tab is hidden it does not ask. */
(function () {
  "use strict";
  var POLL_MS = 2000, CHECK_EVERY = 10;

  function start() {
    var box = document.getElementById("native-pay");
    if (!box || !window.fetch) { return; }
    var statusUrl = box.getAttribute("data-status");
    var line = document.getElementById("native-status");
    var button = document.getElementById("paid-already");
    var polls = 0, leaving = false, timer = null;

    function ask(check) {
      var url = statusUrl + (check ? (statusUrl.indexOf("?") < 0 ? "?" : "&") + "check=1" : "");
      return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
        .then(function (response) { return response.ok ? response.json() : null; })
        .catch(function () { return null; });
    }

    function follow(answer) {
      if (!answer || answer.state === "waiting" || !answer.next) { return false; }
      leaving = true;
      window.location.assign(answer.next);
      return true;
    }

    function poll() {
      timer = null;
      if (leaving) { return; }
      if (document.hidden) { schedule(); return; }
      polls += 1;
      ask(polls % CHECK_EVERY === 0).then(function (answer) {
        if (!follow(answer)) { schedule(); }
      });
    }

    function schedule() {
      if (!leaving && timer === null) { timer = window.setTimeout(poll, POLL_MS); }
    }

    if (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        button.setAttribute("aria-busy", "true");
        ask(true).then(function (answer) {
          button.removeAttribute("aria-busy");
          if (answer === null) { window.location.assign(button.href); return; }  // the result page asks instead
          if (!follow(answer) && line) {
            line.textContent = box.getAttribute("data-not-yet") || "";
            line.hidden = false;
          }
        });
      });
    }
    document.addEventListener("visibilitychange", function () { if (!document.hidden) { schedule(); } });
    schedule();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
