/* Console: refresh sold / paid / left of flash sales every 5 seconds (optional: the page shows
   the figures of the moment it was rendered). */
(function () {
  "use strict";
  var holders = document.querySelectorAll("[data-fs-stats]");
  if (!holders.length || !window.fetch) { return; }
  function sum(items, key) {
    return items.reduce(function (total, item) { return total + (item[key] || 0); }, 0);
  }
  function set(scope, key, value) {
    var cell = scope.querySelector('[data-fs="' + key + '"]');
    if (cell && value !== undefined) { cell.textContent = value; }
  }
  function refresh(holder) {
    fetch(holder.getAttribute("data-fs-stats"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (sale) {
        if (!sale) { return; }
        if (holder.tagName === "TR") {
          set(holder, "sold", sum(sale.items, "sold"));
          set(holder, "remaining", sum(sale.items, "remaining"));
          return;
        }
        sale.items.forEach(function (item) {
          var row = holder.querySelector('tr[data-sku-id="' + item.sku_id + '"]');
          if (row) { set(row, "sold", item.sold); set(row, "paid", item.paid); set(row, "remaining", item.remaining); }
        });
      })
      .catch(function () { /* keep the figures on the page */ });
  }
  setInterval(function () { Array.prototype.forEach.call(holders, refresh); }, 5000);
})();
