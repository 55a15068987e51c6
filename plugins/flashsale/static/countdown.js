/* Flash sale countdowns: progressive enhancement only. The server already printed the time left
   (sale pages and the product page's ribbon, which Mallow may keep: data-fs-deadline, epoch
   seconds) or the start and end times (page-builder blocks); this ticks them every second and
   reloads a sale page when its sale opens or ends (after a random 1–3 s, so a crowd does not
   arrive in the same millisecond). */
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function format(seconds, daysFormat) {
    seconds = Math.max(0, Math.floor(seconds));
    var days = Math.floor(seconds / 86400), rest = seconds % 86400;
    var clock = pad(Math.floor(rest / 3600)) + ":" + pad(Math.floor(rest % 3600 / 60)) + ":" + pad(rest % 60);
    return days ? (daysFormat || "%(days)s d").replace("%(days)s", days) + " " + clock : clock;
  }
  function once(el) {
    if (el.getAttribute("data-fs-ticking")) { return false; }
    el.setAttribute("data-fs-ticking", "1");
    return true;
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-fs-deadline]"), function (el) {
    var clock = el.querySelector(".fs-clock");
    if (!clock || !once(el)) { return; }
    var deadline = parseInt(el.getAttribute("data-fs-deadline"), 10) * 1000;
    var daysFormat = el.getAttribute("data-days-format");
    var timer = setInterval(function () {
      var left = (deadline - Date.now()) / 1000;
      clock.textContent = format(left, daysFormat);
      if (left <= 0) {
        clearInterval(timer);
        setTimeout(function () { window.location.reload(); }, 1000 + Math.random() * 2000);
      }
    }, 1000);
  });

  Array.prototype.forEach.call(document.querySelectorAll("[data-fs-starts][data-fs-ends]"), function (el) {
    var clock = el.querySelector(".fs-clock"), label = el.querySelector(".fs-label");
    if (!clock || !once(el)) { return; }
    var starts = parseInt(el.getAttribute("data-fs-starts"), 10) * 1000;
    var ends = parseInt(el.getAttribute("data-fs-ends"), 10) * 1000;
    var daysFormat = el.getAttribute("data-days-format");
    function tick() {
      var now = Date.now();
      if (now < starts) {
        label.textContent = el.getAttribute("data-label-before");
        clock.textContent = format((starts - now) / 1000, daysFormat);
      } else if (now < ends) {
        label.textContent = el.getAttribute("data-label-live");
        clock.textContent = format((ends - now) / 1000, daysFormat);
      } else {
        label.textContent = el.getAttribute("data-label-over");
        clock.textContent = "";
        return false;
      }
      return true;
    }
    if (tick()) {
      var timer = setInterval(function () { if (!tick()) { clearInterval(timer); } }, 1000);
    }
  });
})();
