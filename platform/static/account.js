/* The shopper's account pages (mallow.storefront.account): everything works without this
   file; it only saves steps.
   - The address form's 省/市/区 selects fill each other from /regions/<code>.json instead of the
     "next" button round trip (hidden once this runs).
   - The SMS form's "send again" button waits out the resend interval with a countdown. */
(function () {
  "use strict";

  function fill(select, items, placeholder) {
    select.textContent = "";
    var first = document.createElement("option");
    first.value = "";
    first.textContent = placeholder;
    select.appendChild(first);
    items.forEach(function (item) {
      var option = document.createElement("option");
      option.value = item.code;
      option.textContent = item.name;
      if (item.leaf) option.setAttribute("data-leaf", "1");
      select.appendChild(option);
    });
    select.disabled = items.length === 0;
  }

  function show(select, visible) {
    var label = select.closest("label");
    if (label) label.hidden = !visible;
  }

  function regions(fieldset) {
    var url = fieldset.getAttribute("data-children-url");
    var province = fieldset.querySelector("#f-province_code");
    var city = fieldset.querySelector("#f-city_code");
    var district = fieldset.querySelector("#f-district_code");
    if (!url || !province || !city || !district || !window.fetch) return;
    fieldset.classList.add("js-regions");

    function load(code, select, then) {
      fetch(url.replace("000000", code), {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
        .then(function (data) { fill(select, data.children, select.getAttribute("data-placeholder")); then(data.children); })
        .catch(function () { fieldset.classList.remove("js-regions"); });  // fall back to the button
    }

    province.addEventListener("change", function () {
      fill(district, [], district.getAttribute("data-placeholder"));
      show(district, true);
      if (!province.value) { fill(city, [], city.getAttribute("data-placeholder")); show(city, true); return; }
      load(province.value, city, function (items) {
        show(city, items.length > 0);
        show(district, items.length > 0);
        if (items.length) city.focus();
      });
    });
    city.addEventListener("change", function () {
      if (!city.value) { fill(district, [], district.getAttribute("data-placeholder")); show(district, true); return; }
      load(city.value, district, function (items) {
        show(district, items.length > 0);
        if (items.length) district.focus();
      });
    });
  }

  function countdown(button) {
    var left = parseInt(button.getAttribute("data-resend"), 10) || 60;
    var label = button.textContent;
    var wait = button.getAttribute("data-label-wait") || "{s}";
    button.disabled = true;
    function tick() {
      if (left <= 0) { button.disabled = false; button.textContent = label; return; }
      button.textContent = wait.replace("{s}", String(left));
      left -= 1;
      window.setTimeout(tick, 1000);
    }
    tick();
  }

  function start() {
    document.querySelectorAll("fieldset.acc-region").forEach(regions);
    var send = document.getElementById("send-code");
    if (send && send.getAttribute("data-sent")) countdown(send);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
