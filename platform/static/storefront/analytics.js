/* Mallow analytics beacon: one view per page shown (kept pages included: the front door serves
   them without the app). Sets the first-party visitor cookie (mallow_v, one year) and remembers a
   campaign's utm_source (mallow_src, 30 days); sends the page's path to the store's beacon. */
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script && script.getAttribute("data-mallow-beacon");
  if (!url) return;
  function cookie(name) {
    var found = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return found ? found[1] : null;
  }
  function set(name, value, seconds) {
    document.cookie = name + "=" + value + "; path=/; max-age=" + seconds + "; samesite=lax";
  }
  if (!cookie("mallow_v")) {
    var bytes = new Uint8Array(12), id = "";
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    for (var i = 0; i < bytes.length; i++) id += ("0" + bytes[i].toString(16)).slice(-2);
    set("mallow_v", id, 31536000);
  }
  var utm = /[?&]utm_source=([A-Za-z0-9_.-]{1,40})/.exec(location.search);
  if (utm) set("mallow_src", "c:" + utm[1], 2592000);
  var target = url + "?p=" + encodeURIComponent(location.pathname + location.search);
  if (navigator.sendBeacon && navigator.sendBeacon(target)) return;
  new Image().src = target;
})();
