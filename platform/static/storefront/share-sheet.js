/* Mallow storefront: the product page's share sheet (分享). Tapping #share opens a bottom sheet
   with the share poster (a PNG drawn by the server: the product, its price, the store's name and a
   QR code of the share link with the shopper's code; long-press it to save inside WeChat) and
   复制链接 (copy the share link). The button's data-share-link answers {share_url, poster_url}
   for the visitor (signed in: their code). Loaded by storefront/_product_detail.html; it takes the
   tap before product.js's own share handler (capture phase). Works in any browser, not only
   WeChat; without JavaScript the button is hidden (like the rest of the share entry). */

(function () {
"use strict";
const doc = document;
let sheet = null;
let current = null;  // {share_url, poster_url}

function el(tag, className, text) {
  const node = doc.createElement(tag);
  if (className) { node.className = className; }
  if (text) { node.textContent = text; }
  return node;
}

function copyByHand(link) {
  const field = el("textarea", "sh-copy-field");
  field.value = link;
  field.setAttribute("readonly", "");
  doc.body.appendChild(field);
  field.select();
  let copied = false;
  try { copied = doc.execCommand("copy"); } catch (error) { copied = false; }
  field.remove();
  return copied;
}

function build(button) {
  const data = button.dataset;
  const mask = el("div", "sh-mask");
  mask.id = "share-sheet";
  mask.hidden = true;
  const box = el("div", "sh-sheet");
  box.setAttribute("role", "dialog");
  box.setAttribute("aria-modal", "true");
  box.setAttribute("aria-label", data.title || "");
  const title = el("h2", "sh-title", data.title);
  const figure = el("div", "sh-figure");
  const poster = el("img", "sh-poster");
  poster.id = "share-poster";
  poster.alt = data.posterAlt || "";
  poster.width = 750;
  poster.height = 1190;
  figure.appendChild(poster);
  const hint = el("p", "sh-hint", data.hint);
  const status = el("p", "sh-status");
  status.setAttribute("aria-live", "polite");
  const field = el("input", "sh-link");
  field.type = "text";
  field.readOnly = true;
  field.hidden = true;
  field.setAttribute("aria-label", data.copyByHand || "");
  const actions = el("div", "sh-actions");
  const copy = el("button", "sh-copy", data.copy);
  copy.type = "button";
  copy.id = "share-copy";
  const close = el("button", "sh-close", data.close);
  close.type = "button";
  actions.append(copy, close);
  box.append(title, figure, hint, status, field, actions);
  mask.appendChild(box);
  doc.body.appendChild(mask);

  mask.addEventListener("click", (event) => { if (event.target === mask) { hide(); } });
  close.addEventListener("click", hide);
  doc.addEventListener("keydown", (event) => { if (event.key === "Escape" && !mask.hidden) { hide(); } });
  copy.addEventListener("click", async () => {
    const link = current && current.share_url;
    if (!link) { return; }
    let copied = false;
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(link); copied = true; } catch (error) { copied = false; }
    }
    if (!copied) { copied = copyByHand(link); }
    if (copied) {
      status.textContent = data.copied || "";
    } else {  // neither way could copy: the link, selected, to copy by hand
      status.textContent = data.copyByHand || "";
      field.value = link;
      field.hidden = false;
      field.focus();
      field.select();
    }
  });
  return {mask, poster, status, field, copy};
}

function hide() {
  if (!sheet) { return; }
  sheet.mask.hidden = true;
  doc.documentElement.classList.remove("share-open");
  const button = doc.getElementById("share");
  if (button) { button.focus(); }
}

async function show(button) {
  if (!sheet) { sheet = build(button); }
  sheet.status.textContent = "";
  sheet.field.hidden = true;
  sheet.mask.hidden = false;
  doc.documentElement.classList.add("share-open");
  sheet.copy.focus();
  const base = new URL(button.dataset.shareLink, window.location.href);
  let found = null;
  try {
    const response = await fetch(base.href, {credentials: "same-origin", headers: {"Accept": "application/json"}});
    if (response.ok) { found = await response.json(); }
  } catch (error) { found = null; }
  if (!found) {  // the page's own address and the poster without a code
    found = {share_url: window.location.href.split("#")[0], poster_url: new URL(button.dataset.poster, window.location.href).href};
  }
  current = found;
  if (sheet.poster.getAttribute("src") !== found.poster_url) { sheet.poster.src = found.poster_url; }
}

doc.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("#share[data-share-link]");
  if (!button) { return; }
  event.preventDefault();
  event.stopImmediatePropagation();  // the sheet instead of product.js's copy-the-link
  show(button);
}, true);
})();
