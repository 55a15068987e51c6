// The distribution centre's copy buttons (progressive enhancement: without script the link is
// shown to select and copy by hand). [data-copy] names the element whose text is copied.
(function () {
  "use strict";
  var doc = document;
  doc.documentElement.classList.add("js");
  function copied(button) {
    var label = button.textContent;
    button.textContent = button.getAttribute("data-copied") || label;
    setTimeout(function () { button.textContent = label; }, 2000);
  }
  function byHand(text) {
    var field = doc.createElement("textarea");
    field.value = text;
    field.setAttribute("readonly", "");
    field.style.position = "fixed";
    field.style.opacity = "0";
    doc.body.appendChild(field);
    field.select();
    var ok = false;
    try { ok = doc.execCommand("copy"); } catch (error) { ok = false; }
    field.remove();
    return ok;
  }
  function start() {
    Array.prototype.forEach.call(doc.querySelectorAll("[data-copy]"), function (button) {
      button.addEventListener("click", function () {
        var source = doc.getElementById(button.getAttribute("data-copy"));
        if (!source) { return; }
        var text = source.textContent.trim();
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(function () { copied(button); },
            function () { if (byHand(text)) { copied(button); } });
        } else if (byHand(text)) {
          copied(button);
        } else {
          var range = doc.createRange();
          range.selectNodeContents(source);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }
      });
    });
  }
  if (doc.readyState === "loading") { doc.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
