/* The waiting page (排队中): polls the ticket's state (cookie session, JSON) and moves on by itself:
   to the cashier once the order exists, to the ticket page when it was refused (the server words
   the refusal there). Progressive enhancement: without script the page reloads its ticket page
   every few seconds (a <noscript> refresh), which redirects to the cashier the same way. Polls are
   spread out (1–2 s, a little longer after errors) so a crowd does not arrive in the same
   millisecond. */
(function () {
  "use strict";
  var box = document.querySelector("[data-fs-poll]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-fs-poll"), misses = 0;

  function later() {
    var wait = 1000 + Math.random() * 1000 + Math.min(misses, 5) * 1000;
    setTimeout(poll, wait);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 404) { return { status: "gone" }; }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (state) {
        if ((state.status === "ordered" || state.status === "failed") && state.url) {
          window.location.replace(state.url);
          return;
        }
        if (state.status === "gone") {  // no longer this shopper's (signed out): the ticket page says so
          window.location.replace(box.getAttribute("data-fs-ticket-url"));
          return;
        }
        misses = 0;
        later();
      })
      .catch(function () { misses += 1; later(); });
  }

  later();
})();
