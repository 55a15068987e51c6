/* Coupons: claim in place. Every claim button is a plain POST form (with its CSRF token) that
   works without this script; here it is sent with fetch asking for JSON, and the button becomes
   已领取 (or 已领完) without leaving the page. The CSP allows only this site's files: no inline
   script anywhere. */
(function () {
  "use strict";
  function say(form, message, ok) {
    var status = document.getElementById("claim-status");
    if (status) {
      status.textContent = message;
      status.style.color = ok ? "" : "#e4393c";
    }
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-claim]") || !window.fetch || !window.FormData) return;
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      if (response.redirected || !(response.headers.get("Content-Type") || "").match(/json/)) {
        window.location.href = response.url; // signed out: the sign-in page, back here afterwards
        return null;
      }
      return response.json();
    }).then(function (answer) {
      if (!answer) return;
      var card = form.closest("[data-coupon-id]");
      var state = answer.ok ? answer.state : answer.error === "sold_out" ? "gone" : answer.error === "limit_reached" ? "claimed" : null;
      if (state && state !== "claim" && button) {
        button.type = "button";
        button.className = "cp-btn done";
        button.textContent = state === "gone" ? form.getAttribute("data-gone") : form.getAttribute("data-claimed");
        if (card) card.setAttribute("data-state", state);
      } else if (button) {
        button.disabled = false;
      }
      say(form, answer.message, answer.ok);
    }).catch(function () {
      form.submit(); // the network failed: the plain post shows what happened
    });
  });
})();
