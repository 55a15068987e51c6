/* Mallow storefront: the product page, progressively enhanced (no third-party code loaded until a
   photo is tapped; the CSP is script-src 'self'). A classic script, loaded at the top of the buy
   box: it marks the page as scripted ("js") and as inside WeChat ("wechat") before the rest is
   drawn, so the plain form never flashes; the rest runs once the page is parsed. Should anything
   fail, the "js" mark goes and the plain form is back.

   Without this file the page is a plain form: one radio per option, a quantity, and the buy bar's
   加入购物车 / 立即购买 submit it. With it:
   * the gallery shows "2/5" as the shopper swipes, and a tap opens the zoomable viewer
     (PhotoSwipe, vendored in ./vendor/photoswipe/, loaded on the first tap);
   * the options become a bottom sheet: one row of chips per spec dimension (combinations that are
     sold out or do not exist greyed), the price, stock and photo of the chosen option, a quantity
     stepper; the buy bar's buttons open it, its own buttons submit the same form. The photo is the
     chosen SKU's own (规格图), or, while the choice is partial (a colour, no size yet), that of the
     first SKU with one that fits it; else the product's first image;
   * 分享 copies the page's link (Clipboard API, else a selected text field), or inside WeChat
     points at the menu's own share (wechat-share.js gives WeChat #share-data through wx.config).

   Data: #sku-data {dims: [{name, values}], skus: [{id, values, price, market_price, stock, label,
   image (or null)}], image (the product's), max}, #share-data {title, desc, link, imgUrl},
   #product-texts (the page's language). */

(function () {
"use strict";
const doc = document;
const root = doc.documentElement;
const here = (doc.currentScript && doc.currentScript.src) || window.location.href;
root.classList.add("js");
if (/MicroMessenger/i.test(navigator.userAgent)) { root.classList.add("wechat"); }
const $ = (selector, root) => (root || doc).querySelector(selector);
const $$ = (selector, root) => Array.from((root || doc).querySelectorAll(selector));

function readJson(id) {
  const node = doc.getElementById(id);
  if (!node) { return null; }
  try { return JSON.parse(node.textContent); } catch (error) { return null; }
}

let texts = {};  // read once the page is parsed (start)
function text(key, values) {
  let found = texts[key] || key;
  Object.keys(values || {}).forEach((name) => { found = found.split("{" + name + "}").join(values[name]); });
  return found;
}

/* -- a short message at the bottom of the screen ------------------------------------------- */
let toastTimer = null;
function toast(message) {
  let node = $("#sf-toast");
  if (!node) {
    node = doc.createElement("div");
    node.id = "sf-toast";
    node.className = "sf-toast";
    node.setAttribute("role", "status");
    doc.body.appendChild(node);
  }
  node.textContent = message;
  node.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => node.classList.remove("show"), 2200);
}

/* -- gallery: counter and zoomable viewer ---------------------------------------------------- */
function setUpGallery() {
  const track = $("#gallery-track");
  if (!track) { return; }
  const slides = $$(".pd-slide", track);
  const counter = $("#gallery-counter b");
  const current = () => Math.round(track.scrollLeft / Math.max(track.clientWidth, 1));
  if (counter) {
    let frame = 0;
    track.addEventListener("scroll", () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => { counter.textContent = String(Math.min(current(), slides.length - 1) + 1); });
    }, { passive: true });
  }
  let viewer = null;
  function show(index) {
    track.scrollTo({ left: index * track.clientWidth, behavior: "auto" });
  }
  async function open(index, slide) {
    if (!viewer) {  // the viewer's script and stylesheet, both loaded before it opens
      const styles = new Promise((resolve, reject) => {
        const link = doc.createElement("link");
        link.rel = "stylesheet";
        link.href = new URL("vendor/photoswipe/photoswipe.css", here).href;
        link.onload = resolve;
        link.onerror = reject;
        doc.head.appendChild(link);
      });
      viewer = Promise.all([import(new URL("vendor/photoswipe/photoswipe.esm.min.js", here).href), styles])
        .then(([module]) => module.default);
    }
    let PhotoSwipe;
    try {
      PhotoSwipe = await viewer;
    } catch (error) {  // the viewer could not load: open the photo itself
      viewer = null;
      window.location.href = slide.href;
      return;
    }
    const pswp = new PhotoSwipe({
      dataSource: slides.map((s) => ({ src: s.href, width: Number(s.dataset.width) || 800, height: Number(s.dataset.height) || 800,
        alt: ($("img", s) || {}).alt || "" })),
      index, bgOpacity: 0.94, wheelToZoom: true, showHideAnimationType: "fade",
      closeTitle: text("close"), zoomTitle: text("zoom"), arrowPrevTitle: text("previous"), arrowNextTitle: text("next"),
      errorMsg: text("photo_failed"), indexIndicatorSep: "/",
    });
    pswp.on("change", () => { show(pswp.currIndex); });
    pswp.init();
  }
  slides.forEach((slide, index) => {
    slide.addEventListener("click", (event) => {
      if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) { return; }
      event.preventDefault();
      open(index, slide);
    });
  });
}

/* -- the option sheet ------------------------------------------------------------------------ */
function setUpSheet() {
  const form = $("#add-to-cart");
  const sheet = $("#sku-sheet");
  const data = readJson("sku-data");
  if (!form || !sheet || !data) { return; }
  const dims = data.dims || [];
  const skus = data.skus || [];
  const maxQuantity = data.max || 999;
  const radios = $$('input[name="sku_id"]', form);
  const quantity = $("#quantity", form);
  const rows = $$(".pd-dim", sheet);
  const price = $("#sheet-price span", sheet);
  const stock = $("#sheet-stock", sheet);
  const chosenText = $("#sheet-chosen", sheet);
  const image = $("#sheet-image", sheet);
  const specRow = $("#spec-chosen");
  const footButtons = $$(".pd-sheet-foot button", sheet);
  radios.forEach((radio) => { radio.required = false; });  // the sheet checks the choice itself

  const checked = radios.find((radio) => radio.checked);
  const start = checked ? skus.find((s) => String(s.id) === checked.value) : null;
  const selected = dims.map((dim, i) => (start ? start.values[i] : null));
  if (!start) {  // nothing chosen yet: a dimension with a single value is chosen for the shopper
    dims.forEach((dim, i) => { if (dim.values.length === 1) { selected[i] = dim.values[0]; } });
  }

  const inStock = (sku) => sku.stock > 0;
  const matches = (sku, except) => selected.every((value, j) => j === except || value === null || sku.values[j] === value);
  const complete = () => selected.every((value) => value !== null);
  const chosenSku = () => (complete() ? skus.find((sku) => matches(sku, -1) && sku.values.length === dims.length) || null : null);
  const lowest = skus.filter(inStock).map((s) => Number(s.price)).sort((a, b) => a - b)[0];

  // the picture for the choice so far: the SKU's own, else the first fitting SKU's, else the product's
  function pictureFor(sku) {
    if (sku) { return sku.image || data.image; }
    const fitting = selected.some((value) => value !== null) ? skus.find((s) => s.image && matches(s, -1)) : null;
    return (fitting && fitting.image) || data.image;
  }

  function missing() {
    return dims.filter((dim, i) => selected[i] === null).map((dim) => dim.name).join(" ");
  }

  function render() {
    rows.forEach((row) => {
      const d = Number(row.dataset.dim);
      $$(".pd-chip", row).forEach((chip) => {
        const value = chip.dataset.value;
        const anywhere = skus.some((sku) => inStock(sku) && sku.values[d] === value);
        const here = skus.some((sku) => inStock(sku) && sku.values[d] === value && matches(sku, d));
        chip.disabled = !anywhere;
        chip.classList.toggle("is-off", anywhere && !here);
        chip.setAttribute("aria-pressed", String(selected[d] === value));
      });
    });
    const sku = chosenSku();
    radios.forEach((radio) => { radio.checked = !!sku && radio.value === String(sku.id); });
    if (sku) {
      price.textContent = sku.price;
      stock.textContent = sku.stock > 0 ? text("in_stock", { stock: sku.stock }) : text("sold_out");
      const label = text("chosen", { option: sku.label });
      chosenText.textContent = label;
      if (specRow) { specRow.textContent = label; }
      const limit = Math.max(1, Math.min(sku.stock, maxQuantity));
      quantity.max = String(limit);
      if (Number(quantity.value) > limit) { quantity.value = String(limit); }
    } else {
      price.textContent = lowest !== undefined ? lowest.toFixed(2) : price.textContent;
      stock.textContent = "";
      const prompt = text("choose", { names: missing() });
      chosenText.textContent = prompt;
      if (specRow) { specRow.textContent = prompt; }
    }
    const picture = pictureFor(sku);
    if (image && picture && image.getAttribute("src") !== picture) { image.src = picture; }
    footButtons.forEach((button) => { button.setAttribute("aria-disabled", String(!sku || sku.stock <= 0)); });
  }

  rows.forEach((row) => {
    const d = Number(row.dataset.dim);
    row.addEventListener("click", (event) => {
      const chip = event.target.closest(".pd-chip");
      if (!chip || chip.disabled) { return; }
      const value = chip.dataset.value;
      if (selected[d] === value) {
        selected[d] = null;  // a second tap takes the choice back
      } else {
        selected[d] = value;
        // a value that does not go with the other choices keeps itself and drops them
        selected.forEach((other, j) => {
          if (j !== d && other !== null && !skus.some((sku) => inStock(sku) && sku.values[d] === value && sku.values[j] === other)) {
            selected[j] = null;
          }
        });
      }
      render();
    });
  });

  // quantity stepper
  $$("[data-step]", sheet).forEach((button) => {
    button.addEventListener("click", () => {
      const limit = Number(quantity.max) || maxQuantity;
      const next = (parseInt(quantity.value, 10) || 1) + Number(button.dataset.step);
      quantity.value = String(Math.min(Math.max(next, 1), limit));
    });
  });
  quantity.addEventListener("change", () => {
    const limit = Number(quantity.max) || maxQuantity;
    const value = parseInt(quantity.value, 10);
    quantity.value = String(Math.min(Math.max(Number.isNaN(value) ? 1 : value, 1), limit));
  });

  // opening and closing
  let opener = null;
  function open(intent, from) {
    opener = from || null;
    sheet.dataset.intent = intent;
    footButtons.forEach((button) => { button.hidden = intent !== "both" && button.dataset.intent !== intent; });
    sheet.classList.add("open");
    sheet.setAttribute("role", "dialog");  // a modal bottom sheet while open
    sheet.setAttribute("aria-modal", "true");
    root.classList.add("sheet-open");
    render();
    const first = $(".pd-sheet-close", sheet);
    if (first) { first.focus({ preventScroll: true }); }
  }
  function close() {
    sheet.classList.remove("open");
    sheet.setAttribute("role", "group");
    sheet.removeAttribute("aria-modal");
    root.classList.remove("sheet-open");
    if (opener) { opener.focus({ preventScroll: true }); }
  }
  $$("[data-close-sheet]", sheet).forEach((node) => node.addEventListener("click", close));
  doc.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && sheet.classList.contains("open")) { close(); }
  });
  $$("[data-open-sheet]").forEach((node) => {
    node.addEventListener("click", (event) => {
      event.preventDefault();
      open(node.dataset.openSheet, node);
    });
  });

  // the sheet's own buttons submit the form once the choice is complete
  footButtons.forEach((button) => {
    button.addEventListener("click", (event) => {
      const sku = chosenSku();
      if (!sku || sku.stock <= 0) {
        event.preventDefault();
        toast(sku ? text("sold_out") : text("choose", { names: missing() }));
        return;
      }
      quantity.dispatchEvent(new Event("change"));
    });
  });
  form.addEventListener("submit", () => {
    footButtons.forEach((button) => { button.setAttribute("aria-busy", "true"); });
  });
  render();
}

/* -- share ------------------------------------------------------------------------------------- */
function copyByHand(link) {
  const field = doc.createElement("textarea");
  field.value = link;
  field.setAttribute("readonly", "");
  field.className = "sf-copy-field";
  doc.body.appendChild(field);
  field.select();
  let copied = false;
  try { copied = doc.execCommand("copy"); } catch (error) { copied = false; }
  field.remove();
  return copied;
}

function showLink(link) {  // neither way could copy: the link, selected, to copy by hand
  let box = $("#sf-share-box");
  if (!box) {
    box = doc.createElement("div");
    box.id = "sf-share-box";
    box.className = "sf-share-box";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", text("copy_by_hand"));
    const label = doc.createElement("p");
    label.textContent = text("copy_by_hand");
    const field = doc.createElement("input");
    field.type = "text";
    field.readOnly = true;
    const done = doc.createElement("button");
    done.type = "button";
    done.textContent = text("close");
    done.addEventListener("click", () => { box.hidden = true; });
    box.append(label, field, done);
    doc.body.appendChild(box);
  }
  const field = $("input", box);
  field.value = link;
  box.hidden = false;
  field.focus();
  field.select();
}

function wechatHint() {
  let hint = $("#sf-wechat-hint");
  if (!hint) {
    hint = doc.createElement("div");
    hint.id = "sf-wechat-hint";
    hint.className = "sf-wechat-hint";
    hint.setAttribute("role", "dialog");
    const arrow = doc.createElement("span");
    arrow.className = "sf-wechat-arrow";
    arrow.setAttribute("aria-hidden", "true");
    const message = doc.createElement("p");
    message.textContent = text("wechat_share");
    const done = doc.createElement("button");
    done.type = "button";
    done.textContent = text("got_it");
    hint.append(arrow, message, done);
    hint.addEventListener("click", () => { hint.hidden = true; });
    doc.body.appendChild(hint);
  }
  hint.hidden = false;
  $("button", hint).focus();
}

function setUpShare() {
  const button = $("#share");
  const data = readJson("share-data");
  if (!button || !data) { return; }
  button.addEventListener("click", async () => {
    if (root.classList.contains("wechat")) {
      wechatHint();
      return;
    }
    const link = data.link || window.location.href;
    let copied = false;
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(link); copied = true; } catch (error) { copied = false; }
    }
    if (!copied) { copied = copyByHand(link); }
    if (copied) { toast(text("copied")); } else { showLink(link); }
  });
}

function start() {
  try {
    texts = readJson("product-texts") || {};
    setUpGallery();
    setUpSheet();
    setUpShare();
    root.classList.add("product-ready");
  } catch (error) {  // back to the plain form, which works on its own
    root.classList.remove("js", "sheet-open");
    throw error;
  }
}
if (doc.readyState === "loading") { doc.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
