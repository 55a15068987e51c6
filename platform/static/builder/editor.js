/* Mallow page editor: palette, phone preview, settings form generated from the block schemas.
 *
 * Plain JavaScript, no build step, no third-party code (CSP: script-src 'self'). The page JSON is
 * the only state: every change goes through commit(), which keeps undo/redo snapshots, redraws,
 * asks the server for a fresh preview and autosaves the draft. Text typed by the merchant is only
 * ever put into the page as text (textContent, value); the preview HTML comes from the server's
 * sandboxed theme renderer.
 *
 * Every request is a console API operation (data.urls: savePageDraft, previewPage, publishPage,
 * listPageVersions, rollbackPage, getPage, saveTheme, listMedia / uploadMedia / deleteMedia,
 * listMerchantProducts / getMerchantProduct), sent with the browser session and its CSRF token.
 */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("pe-data").textContent);
  var T = data.text;
  var TYPES = {};
  data.types.forEach(function (t) { TYPES[t.type] = t; });
  var THEMES = {};
  data.themes.forEach(function (t) { THEMES[t.name] = t; });

  var state = {
    doc: clone(data.page.document),
    revision: data.page.revision,
    selected: null,
    undo: [],
    redo: [],
    typing: null,          // the field path being typed into (one undo step per field visit)
    errors: {},            // JSON pointer -> message, from the last refused save or preview
    html: {},              // block id -> preview HTML from the server
    theme: {name: data.theme.name, settings: clone(data.theme.settings)},
    themeDrafts: {},       // theme name -> settings edited but not applied yet (kept while switching)
    themeErrors: {},       // theme setting name (or "theme") -> message, from a refused save or preview
    dirty: false,
    saving: null,
    media: {},             // media id -> {url, thumbnail_url, name, uses}
    products: {},          // product id -> {title, price, image}
    dragging: null         // {kind: "new"|"move", value}
  };
  var MAX_UNDO = 100;
  var saveTimer = null, previewTimer = null, previewSeq = 0;

  // -- small helpers ------------------------------------------------------------------------
  function $(selector, root) { return (root || document).querySelector(selector); }
  function clone(value) { return JSON.parse(JSON.stringify(value)); }
  function fmt(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_m, key) { return String(values[key]); });
  }
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, value);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }
  function pointer() {
    return Array.prototype.map.call(arguments, function (p) {
      return "/" + String(p).replace(/~/g, "~0").replace(/\//g, "~1");
    }).join("");
  }
  function newId(prefix) {
    var id;
    do { id = prefix + Math.random().toString(36).slice(2, 9); }
    while ((state.doc.sections && state.doc.sections[id]) || document.getElementById("pe-b-" + id));
    return id;
  }
  // one console API operation: {status, ok, body} (body null when the answer has none, e.g. 204)
  function api(url, body, method) {
    var options = {method: method || (body === undefined ? "GET" : "POST"), credentials: "same-origin",
                   headers: {"X-CSRFToken": data.csrf, "Accept": "application/json"}};
    if (body instanceof FormData) options.body = body;
    else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (json) {
        return {status: response.status, ok: response.ok, body: json};
      });
    });
  }
  // integer fen as yuan text ("1250" -> "12.50"), without floating point
  function yuan(fen) {
    var abs = Math.abs(fen), cents = String(abs % 100);
    return (fen < 0 ? "-" : "") + Math.floor(abs / 100) + "." + (cents.length < 2 ? "0" + cents : cents);
  }
  // a product of listMerchantProducts / getMerchantProduct as the pickers show it
  function pickable(p) {
    return {id: p.id, title: p.title, price: p.min_price === null ? null : yuan(p.min_price),
            image: p.cover ? p.cover.thumb_url : null};
  }
  function setStatus(kind, text) {
    var node = $("#pe-status");
    node.dataset.state = kind;
    node.textContent = text;
  }

  // -- the document and undo/redo -------------------------------------------------------------
  function snapshot() { return JSON.stringify(state.doc); }

  function commit(mutate, typingPath) {
    if (!typingPath || state.typing !== typingPath) {
      state.undo.push(snapshot());
      if (state.undo.length > MAX_UNDO) state.undo.shift();
      state.redo = [];
    }
    state.typing = typingPath || null;
    mutate(state.doc);
    changed(!typingPath);
  }

  function changed(redrawSettings) {
    state.dirty = true;
    setStatus("unsaved", T.unsaved);
    renderStage();
    if (redrawSettings) renderSettings();
    updateUndoButtons();
    schedulePreview();
    scheduleSave();
  }

  function restore(from, to) {
    if (!from.length) return;
    to.push(snapshot());
    state.doc = JSON.parse(from.pop());
    state.typing = null;
    if (state.selected && !state.doc.sections[state.selected]) state.selected = null;
    changed(true);
  }

  function updateUndoButtons() {
    $("#pe-undo").disabled = !state.undo.length;
    $("#pe-redo").disabled = !state.redo.length;
  }

  function newSection(type) {
    var def = TYPES[type];
    var section = {type: type, settings: clone(def.defaults)};
    if (def.children.length) { section.blocks = {}; section.block_order = []; }
    return section;
  }

  function addBlock(type, index) {
    var id = newId("b");
    commit(function (doc) {
      doc.sections[id] = newSection(type);
      doc.order.splice(index === undefined ? doc.order.length : index, 0, id);
    });
    select(id);
  }

  function moveBlock(id, index) {
    var from = state.doc.order.indexOf(id);
    if (from < 0) return;
    if (index > from) index -= 1;
    if (index === from || index < 0 || index > state.doc.order.length - 1) return;
    commit(function (doc) {
      doc.order.splice(from, 1);
      doc.order.splice(index, 0, id);
    });
  }

  function removeBlock(id) {
    commit(function (doc) {
      delete doc.sections[id];
      doc.order = doc.order.filter(function (x) { return x !== id; });
    });
    if (state.selected === id) select(null);
  }

  function select(id) {
    state.selected = id;
    renderStage();
    renderSettings();
  }

  // -- server: preview and autosave ---------------------------------------------------------
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(refreshPreview, 250);
  }

  function refreshPreview() {
    var seq = ++previewSeq;
    return api(data.urls.preview, {document: state.doc, theme: state.theme.name, theme_settings: state.theme.settings})
      .then(function (r) {
        if (seq !== previewSeq) return;
        if (r.status === 200) {
          r.body.blocks.forEach(function (b) { state.html[b.id] = b.html; });
          $("#pe-sample").textContent = r.body.sample ? r.body.sample.text : "";
          if (Object.keys(state.themeErrors).length) showThemeErrors({});
          var root = $("#pe-preview");
          root.className = "mp mp-theme-" + r.body.theme + " " + r.body.classes;
          root.setAttribute("style", r.body.style);
          root.dataset.theme = r.body.theme;
          if (Object.keys(state.errors).length && !state.dirty) showErrors({}); else renderStage();
        } else if (r.status === 422) {
          var split = splitErrors(r.body.fields);
          showThemeErrors(split.theme);
          if (Object.keys(split.page).length || !Object.keys(split.theme).length) showErrors(split.page);
        }
      });
  }

  function scheduleSave() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, 800);
  }

  function save() {
    clearTimeout(saveTimer);
    if (state.saving) return state.saving.then(function () { return state.dirty ? save() : null; });
    if (!state.dirty) return Promise.resolve(true);
    var sent = snapshot();
    setStatus("saving", T.saving);
    state.saving = api(data.urls.save, {document: JSON.parse(sent), revision: state.revision}, "PUT").then(function (r) {
      state.saving = null;
      if (r.status === 200) {
        state.revision = r.body.revision;
        state.dirty = snapshot() !== sent;
        showErrors({});
        if (state.dirty) scheduleSave(); else setStatus("saved", T.saved);
        return true;
      }
      if (r.status === 422) { showErrors(r.body.fields); setStatus("error", T.errors); }
      else if (r.status === 409) setStatus("error", T.conflict);
      else setStatus("error", T.failed);
      return false;
    }, function () { state.saving = null; setStatus("error", T.failed); return false; });
    return state.saving;
  }

  // field errors of the theme ("/settings/<name>", "theme") and of the page document (the rest)
  function splitErrors(fields) {
    var split = {page: {}, theme: {}};
    Object.keys(fields || {}).forEach(function (key) {
      if (key === "theme" || key.indexOf("/settings") === 0) split.theme[key] = fields[key];
      else split.page[key] = fields[key];
    });
    return split;
  }

  function showThemeErrors(fields) {
    state.themeErrors = {};
    Object.keys(fields || {}).forEach(function (key) {
      var name = key === "theme" ? "theme" : key.replace(/^\/settings\/?/, "").split("/")[0] || "theme";
      state.themeErrors[name] = fields[key].message;
    });
    paintThemeErrors();
  }

  // the messages next to the theme fields, updated in place (the merchant may be typing in one)
  function paintThemeErrors() {
    var box = $("#pe-theme-fields");
    box.querySelectorAll(".error").forEach(function (node) { node.remove(); });
    var select = $("#pe-theme");
    var themeError = state.themeErrors.theme;
    select.setAttribute("aria-invalid", themeError ? "true" : "false");
    if (themeError) box.insertBefore(el("p", {class: "error", id: "pe-theme-error", "data-error-for": "theme", text: themeError}), box.firstChild);
    box.querySelectorAll("[data-theme-field]").forEach(function (wrap) {
      var name = wrap.dataset.themeField;
      var error = state.themeErrors[name];
      var control = wrap.querySelector("input, select");
      wrap.classList.toggle("has-error", !!error);
      if (error) {
        control.setAttribute("aria-invalid", "true");
        control.setAttribute("aria-describedby", control.id + "-error");
        wrap.appendChild(el("small", {class: "error", id: control.id + "-error", "data-error-for": name, text: error}));
      } else {
        control.removeAttribute("aria-invalid");
        control.removeAttribute("aria-describedby");
      }
    });
  }

  function showErrors(fields) {
    state.errors = {};
    Object.keys(fields || {}).forEach(function (key) { state.errors[key] = fields[key].message; });
    renderSettings();
    renderStage();
  }

  function publish() {
    var button = $("#pe-publish");
    button.disabled = true;
    save().then(function (ok) {
      if (ok === false || Object.keys(state.errors).length) { button.disabled = false; return; }
      return api(data.urls.publish, {}).then(function (r) {
        button.disabled = false;
        if (r.status === 201) {
          setStatus("published", fmt(T.published, {n: r.body.number}));
          if (!$("#pe-versions").hidden) loadVersions();
        } else if (r.status === 422) { showErrors(r.body.fields); setStatus("error", T.errors); }
        else setStatus("error", T.failed);
      });
    });
  }

  // -- versions -------------------------------------------------------------------------------
  function loadVersions() {
    return api(data.urls.versions).then(function (r) {
      var list = $("#pe-version-list");
      list.textContent = "";
      if (!r.ok) return;
      if (!r.body.items.length) list.appendChild(el("li", {text: T.no_versions}));
      r.body.items.forEach(function (v) {
        var href = data.urls.version_preview.replace(/\/0$/, "/" + v.id);
        list.appendChild(el("li", {"data-version": v.number, "data-version-id": v.id},
          el("strong", {text: fmt(T.version, {n: v.number})}), " ",
          el("small", {text: new Date(v.created_at).toLocaleString()}), " ",
          v.live ? el("span", {class: "badge badge-open", text: T.live}) : null, " ",
          el("a", {href: href, target: "_blank", rel: "noopener", text: T.preview}), " ",
          v.live ? null : el("button", {type: "button", class: "link pe-rollback", text: T.rollback,
                                        onclick: function () { rollback(v); }})));
      });
    });
  }

  function rollback(version) {
    if (!window.confirm(fmt(T.confirm_rollback, {n: version.number}))) return;
    save().then(function () {
      return api(data.urls.rollback, {version_id: version.id});
    }).then(function (r) {
      return r.status === 200 ? api(data.urls.page) : r;  // the rolled-back draft
    }).then(function (r) {
      if (!r || r.status !== 200) { setStatus("error", T.failed); return; }
      state.undo.push(snapshot());
      state.doc = r.body.document;
      state.revision = r.body.revision;
      state.dirty = false;
      state.selected = null;
      setStatus("published", fmt(T.rolled_back, {n: version.number}));
      renderStage(); renderSettings(); updateUndoButtons(); refreshPreview(); loadVersions();
    });
  }

  // -- palette --------------------------------------------------------------------------------
  function renderPalette() {
    var list = $("#pe-palette");
    data.types.forEach(function (t) {
      var item = el("li", {class: "pe-palette-item", draggable: "true", "data-type": t.type},
        el("span", {class: "pe-icon", "aria-hidden": "true", text: t.icon}),
        el("span", {class: "pe-label", text: t.label}),
        el("button", {type: "button", class: "link", "aria-label": T.add + " " + t.label, text: T.add,
                      onclick: function () {
                        var at = state.selected ? state.doc.order.indexOf(state.selected) + 1 : state.doc.order.length;
                        addBlock(t.type, at);
                        var node = document.getElementById("pe-b-" + state.selected);
                        if (node) node.focus();
                      }}));
      item.addEventListener("dragstart", function (event) {
        state.dragging = {kind: "new", value: t.type};
        event.dataTransfer.effectAllowed = "copy";
        event.dataTransfer.setData("text/plain", "new:" + t.type);
      });
      item.addEventListener("dragend", endDrag);
      list.appendChild(item);
    });
  }

  // -- the phone preview ----------------------------------------------------------------------
  function renderStage() {
    var root = $("#pe-preview");
    var focused = document.activeElement && root.contains(document.activeElement) ? document.activeElement : null;
    var focusKey = focused ? [focused.closest(".pe-block") && focused.closest(".pe-block").dataset.id,
                              focused.dataset.action || ""] : null;
    root.textContent = "";
    if (!state.doc.order.length) {
      root.appendChild(el("p", {class: "pe-empty", text: T.empty}));
    }
    state.doc.order.forEach(function (id, index) {
      var section = state.doc.sections[id];
      var def = TYPES[section.type] || {label: section.type};
      var hasError = Object.keys(state.errors).some(function (k) { return k.indexOf(pointer("sections", id)) === 0; });
      var content = el("div", {class: "pe-block-content", "aria-hidden": "true"});
      content.innerHTML = state.html[id] || "";  // rendered by the server's sandboxed theme templates
      var node = el("div", {class: "pe-block" + (state.selected === id ? " pe-selected" : "") + (hasError ? " pe-invalid" : ""),
                            id: "pe-b-" + id, "data-id": id, "data-type": section.type, draggable: "true", tabindex: "0",
                            role: "group", "aria-label": def.label + " (" + (index + 1) + "/" + state.doc.order.length + ")"},
        el("div", {class: "pe-block-bar"},
          el("span", {class: "pe-block-name", text: def.label}),
          el("button", {type: "button", "data-action": "up", "aria-label": T.move_up + ": " + def.label, title: T.move_up,
                        disabled: index === 0, text: "↑", onclick: function (e) { e.stopPropagation(); moveBlock(id, index - 1); refocus(id, "up"); }}),
          el("button", {type: "button", "data-action": "down", "aria-label": T.move_down + ": " + def.label, title: T.move_down,
                        disabled: index === state.doc.order.length - 1, text: "↓",
                        onclick: function (e) { e.stopPropagation(); moveBlock(id, index + 2); refocus(id, "down"); }}),
          el("button", {type: "button", "data-action": "remove", "aria-label": T.remove + ": " + def.label, title: T.remove,
                        text: "✕", onclick: function (e) { e.stopPropagation(); removeBlock(id); }})),
        content);
      node.addEventListener("click", function () { if (state.selected !== id) select(id); });
      node.addEventListener("keydown", function (e) {
        if (e.target === node && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); select(id); }
      });
      node.addEventListener("dragstart", function (event) {
        if (event.target !== node) return;
        state.dragging = {kind: "move", value: id};
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", "move:" + id);
        node.classList.add("pe-dragging");
      });
      node.addEventListener("dragend", endDrag);
      root.appendChild(node);
    });
    if (focusKey && focusKey[0]) refocus(focusKey[0], focusKey[1]);
  }

  function refocus(id, action) {
    var node = document.getElementById("pe-b-" + id);
    if (!node) return;
    var target = action ? node.querySelector('[data-action="' + action + '"]') : node;
    (target && !target.disabled ? target : node).focus();
  }

  function dropIndex(event) {
    var blocksInStage = Array.prototype.slice.call(document.querySelectorAll("#pe-preview > .pe-block"));
    for (var i = 0; i < blocksInStage.length; i++) {
      var box = blocksInStage[i].getBoundingClientRect();
      if (event.clientY < box.top + box.height / 2) return i;
    }
    return blocksInStage.length;
  }

  function showIndicator(index) {
    var root = $("#pe-preview");
    var line = $("#pe-indicator") || el("div", {id: "pe-indicator", class: "pe-indicator", text: T.drop_here});
    var blocksInStage = root.querySelectorAll(":scope > .pe-block");
    root.insertBefore(line, blocksInStage[index] || null);
  }

  function endDrag() {
    state.dragging = null;
    var line = $("#pe-indicator");
    if (line) line.remove();
    document.querySelectorAll(".pe-dragging").forEach(function (n) { n.classList.remove("pe-dragging"); });
  }

  function setUpDropTarget() {
    var stage = $(".pe-screen");
    stage.addEventListener("dragover", function (event) {
      if (!state.dragging) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = state.dragging.kind === "new" ? "copy" : "move";
      showIndicator(dropIndex(event));
    });
    stage.addEventListener("dragleave", function (event) {
      if (!stage.contains(event.relatedTarget)) { var line = $("#pe-indicator"); if (line) line.remove(); }
    });
    stage.addEventListener("drop", function (event) {
      if (!state.dragging) return;
      event.preventDefault();
      var line = $("#pe-indicator");
      if (line) line.remove();
      var index = dropIndex(event);
      var dragging = state.dragging;
      endDrag();
      if (dragging.kind === "new" && TYPES[dragging.value]) addBlock(dragging.value, index);
      else if (dragging.kind === "move") moveBlock(dragging.value, index);
    });
  }

  // -- the settings form ----------------------------------------------------------------------
  function renderSettings() {
    var pane = $("#pe-settings");
    var active = document.activeElement;
    var activePath = active && pane.contains(active) ? active.dataset.path : null;
    var caret = activePath && typeof active.selectionStart === "number" ? [active.selectionStart, active.selectionEnd] : null;
    pane.textContent = "";
    var id = state.selected;
    if (!id || !state.doc.sections[id]) {
      pane.appendChild(el("p", {class: "hint", text: T.none_selected}));
      return;
    }
    var section = state.doc.sections[id];
    var def = TYPES[section.type];
    pane.appendChild(el("h3", {text: def.label}));
    var form = el("div", {class: "pe-form", "data-block": id});
    def.fields.forEach(function (field) {
      form.appendChild(fieldControl(field, section.settings, ["sections", id, "settings", field.name]));
    });
    if (def.children.length) {
      var childDef = def.children[0];
      var list = el("div", {class: "pe-children"});
      (section.block_order || []).forEach(function (childId, index) {
        var child = section.blocks[childId];
        var cdef = def.children.filter(function (c) { return c.type === child.type; })[0] || childDef;
        var box = el("fieldset", {class: "pe-child", "data-child": childId},
          el("legend", {text: fmt(T.item, {n: index + 1})}),
          el("div", {class: "pe-child-bar"},
            el("button", {type: "button", class: "link", text: "↑", title: T.move_up, "aria-label": T.move_up,
                          disabled: index === 0, onclick: function () { moveChild(id, childId, -1); }}),
            el("button", {type: "button", class: "link", text: "↓", title: T.move_down, "aria-label": T.move_down,
                          disabled: index === section.block_order.length - 1, onclick: function () { moveChild(id, childId, 1); }}),
            el("button", {type: "button", class: "link", text: T.remove, onclick: function () { removeChild(id, childId); }})));
        cdef.fields.forEach(function (field) {
          box.appendChild(fieldControl(field, child.settings, ["sections", id, "blocks", childId, "settings", field.name]));
        });
        list.appendChild(box);
      });
      form.appendChild(list);
      var count = (section.block_order || []).length;
      form.appendChild(el("button", {type: "button", class: "button secondary", id: "pe-add-child",
                                     disabled: count >= def.max_children, text: T.add_item + " (" + childDef.label + ")",
                                     onclick: function () { addChild(id, childDef); }}));
    }
    var blockError = state.errors[pointer("sections", id, "type")] || state.errors[pointer("sections", id, "blocks")];
    if (blockError) form.appendChild(el("p", {class: "error", text: blockError}));
    pane.appendChild(form);
    if (activePath) {
      var again = pane.querySelector('[data-path="' + CSS.escape(activePath) + '"]');
      if (again) {
        again.focus();
        if (caret && typeof again.setSelectionRange === "function") {
          try { again.setSelectionRange(caret[0], caret[1]); } catch (e) { /* not a text input */ }
        }
      }
    }
  }

  function addChild(id, childDef) {
    var childId = newId("c");
    commit(function (doc) {
      var section = doc.sections[id];
      section.blocks = section.blocks || {};
      section.block_order = section.block_order || [];
      section.blocks[childId] = {type: childDef.type, settings: clone(childDef.defaults)};
      section.block_order.push(childId);
    });
  }
  function moveChild(id, childId, step) {
    commit(function (doc) {
      var order = doc.sections[id].block_order;
      var at = order.indexOf(childId);
      var to = at + step;
      if (to < 0 || to >= order.length) return;
      order.splice(at, 1);
      order.splice(to, 0, childId);
    });
  }
  function removeChild(id, childId) {
    commit(function (doc) {
      var section = doc.sections[id];
      delete section.blocks[childId];
      section.block_order = section.block_order.filter(function (x) { return x !== childId; });
    });
  }

  function setAt(path, value, typing) {
    commit(function (doc) {
      var target = doc;
      for (var i = 0; i < path.length - 1; i++) target = target[path[i]];
      target[path[path.length - 1]] = value;
    }, typing ? pointer.apply(null, path) : null);
  }

  function fieldControl(field, settings, path) {
    var key = pointer.apply(null, path);
    var inputId = "pe-f" + key.replace(/[^A-Za-z0-9_-]/g, "-");
    var value = settings[field.name] !== undefined ? settings[field.name] : field.default;
    var error = state.errors[key];
    var wrap = el("div", {class: "field" + (error ? " has-error" : ""), "data-field": field.name});
    var label = el("label", {for: inputId}, el("span", {text: field.label}));
    wrap.appendChild(label);
    var control;
    var common = {id: inputId, "data-path": key, "aria-invalid": error ? "true" : null,
                  "aria-describedby": error ? inputId + "-error" : null};
    function typed(read) {
      return function (event) { setAt(path, read(event.target), true); };
    }
    switch (field.editor) {
      case "textarea":
      case "richtext":
        control = el("textarea", Object.assign({rows: field.editor === "richtext" ? 8 : 3, maxlength: field.maxLength}, common));
        control.value = value || "";
        control.addEventListener("input", typed(function (t) { return t.value; }));
        break;
      case "number":
        control = el("input", Object.assign({type: "number", min: field.minimum, max: field.maximum, step: 1}, common));
        control.value = value === null || value === undefined ? "" : value;
        control.addEventListener("input", typed(function (t) {
          return /^-?\d+$/.test(t.value) ? parseInt(t.value, 10) : t.value;
        }));
        break;
      case "color":
        control = el("input", Object.assign({type: "color"}, common));
        control.value = value || "#000000";
        control.addEventListener("input", typed(function (t) { return t.value; }));
        break;
      case "checkbox":
        control = el("input", Object.assign({type: "checkbox"}, common));
        control.checked = !!value;
        control.addEventListener("change", function (e) { setAt(path, e.target.checked); });
        label.insertBefore(control, label.firstChild);
        control = null;
        break;
      case "select":
        control = el("select", common);
        field.options.forEach(function (o) {
          control.appendChild(el("option", {value: o.value, selected: o.value === value, text: o.label}));
        });
        control.addEventListener("change", function (e) { setAt(path, e.target.value); });
        break;
      case "category":
        control = el("select", common, el("option", {value: "", text: "—"}));
        data.categories.forEach(function (c) {
          control.appendChild(el("option", {value: String(c.id), selected: c.id === value, text: c.name}));
        });
        control.addEventListener("change", function (e) { setAt(path, e.target.value ? parseInt(e.target.value, 10) : null); });
        break;
      case "link":
        control = el("input", Object.assign({type: "text", list: "pe-links", maxlength: field.maxLength,
                                             placeholder: "/search"}, common));
        control.value = value || "";
        control.addEventListener("input", typed(function (t) { return t.value.trim(); }));
        break;
      case "url":
        control = el("input", Object.assign({type: "url", maxlength: field.maxLength, placeholder: "https://"}, common));
        control.value = value || "";
        control.addEventListener("input", typed(function (t) { return t.value.trim(); }));
        break;
      case "image":
        control = imageControl(value, path, common);
        break;
      case "product":
        control = productControl(value, path, common);
        break;
      case "products":
        control = productsControl(value || [], path, common);
        break;
      default:
        control = el("input", Object.assign({type: "text", maxlength: field.maxLength}, common));
        control.value = value || "";
        control.addEventListener("input", typed(function (t) { return t.value; }));
    }
    if (control) wrap.appendChild(control);
    if (field.editor === "link") wrap.appendChild(el("small", {class: "hint", text: T.link_hint}));
    if (error) wrap.appendChild(el("small", {class: "error", id: inputId + "-error", "data-error-for": key, text: error}));
    return wrap;
  }

  function imageControl(value, path, common) {
    var media = value ? state.media[value] : null;
    return el("div", {class: "pe-picker", id: common.id, "data-path": common["data-path"], tabindex: "-1"},
      media ? el("img", {src: media.thumbnail_url, alt: "", width: 64, height: 64})
            : el("span", {class: "pe-ph", text: value ? "#" + value : T.no_image}),
      el("button", {type: "button", class: "button secondary pe-choose-image", text: T.choose_image,
                    onclick: function () { openMediaPicker(function (asset) { setAt(path, asset.id); }); }}),
      value ? el("button", {type: "button", class: "link", text: T.clear, onclick: function () { setAt(path, null); }}) : null);
  }

  function productControl(value, path, common) {
    var product = value ? state.products[value] : null;
    return el("div", {class: "pe-picker", id: common.id, "data-path": common["data-path"], tabindex: "-1"},
      el("span", {class: "pe-picked", text: product ? product.title : (value ? "#" + value : T.no_product)}),
      el("button", {type: "button", class: "button secondary pe-choose-product", text: T.choose_product,
                    onclick: function () { openProductPicker(function (p) { setAt(path, p.id); }); }}),
      value ? el("button", {type: "button", class: "link", text: T.clear, onclick: function () { setAt(path, null); }}) : null);
  }

  function productsControl(values, path, common) {
    var list = el("ol", {class: "pe-product-list"});
    values.forEach(function (productId, index) {
      var product = state.products[productId];
      list.appendChild(el("li", {"data-product-id": productId},
        el("span", {text: product ? product.title : "#" + productId}), " ",
        el("button", {type: "button", class: "link", text: "↑", "aria-label": T.move_up, disabled: index === 0,
                      onclick: function () { var v = values.slice(); v.splice(index, 1); v.splice(index - 1, 0, productId); setAt(path, v); }}),
        el("button", {type: "button", class: "link", text: "↓", "aria-label": T.move_down, disabled: index === values.length - 1,
                      onclick: function () { var v = values.slice(); v.splice(index, 1); v.splice(index + 1, 0, productId); setAt(path, v); }}),
        el("button", {type: "button", class: "link", text: T.remove,
                      onclick: function () { setAt(path, values.filter(function (x) { return x !== productId; })); }})));
    });
    return el("div", {class: "pe-picker", id: common.id, "data-path": common["data-path"], tabindex: "-1"}, list,
      el("button", {type: "button", class: "button secondary pe-choose-product", text: T.choose_product,
                    onclick: function () {
                      openProductPicker(function (p) { if (values.indexOf(p.id) < 0) setAt(path, values.concat([p.id])); });
                    }}));
  }

  // -- pickers (one dialog) ---------------------------------------------------------------------
  function openDialog(title, body) {
    var dialog = $("#pe-dialog");
    $("#pe-dialog-title").textContent = title;
    var holder = $("#pe-dialog-body");
    holder.textContent = "";
    holder.appendChild(body);
    if (!dialog.open) dialog.showModal();
    return dialog;
  }

  // One page of the library, newest first: {items, page, pages}.
  var MEDIA_PER_PAGE = 60;
  function loadMedia(page) {
    return api(data.urls.media + "?per_page=" + MEDIA_PER_PAGE + "&page=" + (page || 1)).then(function (r) {
      if (!r.ok) return {items: [], page: 1, pages: 1};
      r.body.items.forEach(function (m) { state.media[m.id] = m; });
      return {items: r.body.items, page: r.body.page, pages: Math.max(1, Math.ceil(r.body.total / MEDIA_PER_PAGE))};
    });
  }

  function openMediaPicker(onChoose) {
    var grid = el("ul", {class: "pe-media-grid", id: "pe-media-grid"});
    var message = el("p", {class: "error", role: "alert"});
    var upload = el("input", {type: "file", accept: "image/jpeg,image/png,image/webp", id: "pe-upload"});
    var current = 1;
    var prev = el("button", {type: "button", class: "button secondary", id: "pe-media-prev", text: T.previous,
                             onclick: function () { show(current - 1); }});
    var next = el("button", {type: "button", class: "button secondary", id: "pe-media-next", text: T.next,
                             onclick: function () { show(current + 1); }});
    var where = el("span", {class: "muted", id: "pe-media-page"});
    var pager = el("nav", {class: "pager", "aria-label": T.pages}, prev, " ", where, " ", next);
    function show(page) {
      return loadMedia(page).then(function (body) {
        if (!body.items.length && body.page > 1 && body.page > body.pages) return show(body.pages);  // the last image of the last page went
        current = body.page;
        prev.disabled = current <= 1;
        next.disabled = current >= body.pages;
        where.textContent = fmt(T.page_of, {page: current, pages: body.pages});
        pager.hidden = body.pages <= 1;
        fill(body.items);
      });
    }
    function fill(items) {
      grid.textContent = "";
      items.forEach(function (m) {
        grid.appendChild(el("li", {"data-media-id": m.id},
          el("button", {type: "button", class: "pe-media-choose", "aria-label": T.choose + " " + (m.name || m.id),
                        onclick: function () { $("#pe-dialog").close(); onChoose(m); }},
            el("img", {src: m.thumbnail_url, alt: "", loading: "lazy", width: 96, height: 96})),
          el("small", {text: m.name || ("#" + m.id)}),
          m.uses ? el("small", {class: "muted", text: T.in_use})
                 : el("button", {type: "button", class: "link", text: T.delete, onclick: function () {
                     api(data.urls.media + "/" + m.id, undefined, "DELETE").then(function (r) {
                       message.textContent = r.ok ? "" : (r.body && r.body.message) || T.failed;  // names where it is used
                       show(current);
                     });
                   }})));
      });
    }
    upload.addEventListener("change", function () {
      if (!upload.files.length) return;
      var form = new FormData();
      form.append("image", upload.files[0]);
      message.textContent = T.uploading;
      api(data.urls.media, form).then(function (r) {
        upload.value = "";
        if (r.status === 201) { message.textContent = ""; state.media[r.body.id] = r.body; show(1); }
        else message.textContent = r.body && r.body.fields ? r.body.fields.image.message : T.failed;
      });
    });
    var body = el("div", {}, el("label", {class: "field"}, el("span", {text: T.upload}), upload), message, grid, pager);
    openDialog(T.choose_image, body);
    show(1);
  }

  function openProductPicker(onChoose) {
    var results = el("ul", {class: "pe-product-results", id: "pe-product-results"});
    var input = el("input", {type: "search", placeholder: T.search, "aria-label": T.search, id: "pe-product-q"});
    function search() {
      api(data.urls.products + "?per_page=20&q=" + encodeURIComponent(input.value)).then(function (r) {
        results.textContent = "";
        (r.ok ? r.body.items.map(pickable) : []).forEach(function (p) {
          state.products[p.id] = p;
          results.appendChild(el("li", {"data-product-id": p.id},
            p.image ? el("img", {src: p.image, alt: "", width: 40, height: 40}) : null,
            el("span", {text: p.title + (p.price ? "  ¥" + p.price : "")}),
            el("button", {type: "button", class: "button secondary", text: T.choose,
                          onclick: function () { $("#pe-dialog").close(); onChoose(p); }})));
        });
      });
    }
    var timer;
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 250); });
    openDialog(T.choose_product, el("div", {}, input, results));
    search();
    input.focus();
  }

  // -- theme ----------------------------------------------------------------------------------
  function renderTheme() {
    var select = $("#pe-theme");
    select.textContent = "";
    data.themes.forEach(function (t) {
      select.appendChild(el("option", {value: t.name, selected: t.name === state.theme.name, text: t.title}));
    });
    var box = $("#pe-theme-fields");
    box.textContent = "";
    var theme = THEMES[state.theme.name];
    theme.fields.forEach(function (field) {
      var id = "pe-theme-" + field.name;
      var value = state.theme.settings[field.name] !== undefined ? state.theme.settings[field.name] : field.default;
      var control;
      var wrap = el("label", {class: "field", for: id, "data-theme-field": field.name}, el("span", {text: field.label}));
      if (field.editor === "select") {
        control = el("select", {id: id});
        field.options.forEach(function (o) { control.appendChild(el("option", {value: o.value, selected: o.value === value, text: o.label})); });
      } else if (field.editor === "checkbox") {
        control = el("input", {type: "checkbox", id: id});
        control.checked = !!value;
      } else if (field.editor === "number") {
        control = el("input", {type: "number", id: id, min: field.minimum, max: field.maximum});
        control.value = value;
      } else {
        control = el("input", {type: "color", id: id});
        control.value = value;
      }
      control.addEventListener(field.editor === "checkbox" || field.editor === "select" ? "change" : "input", function () {
        var v = field.editor === "checkbox" ? control.checked : control.value;
        if (field.editor === "number") v = parseInt(control.value, 10);
        state.theme.settings[field.name] = v;
        schedulePreview();
      });
      wrap.appendChild(control);
      box.appendChild(wrap);
    });
    paintThemeErrors();
  }

  function saveTheme() {
    api(data.urls.theme, {theme: state.theme.name, settings: state.theme.settings}, "PUT").then(function (r) {
      if (r.status === 200) {
        state.theme.settings = r.body.settings;
        data.theme = {name: r.body.theme, settings: clone(r.body.settings)};  // the store's theme now
        THEMES[r.body.theme].saved = clone(r.body.settings);
        delete state.themeDrafts[r.body.theme];
        showThemeErrors({});
        setStatus("saved", T.theme_saved);
      } else if (r.status === 422) {
        showThemeErrors(splitErrors(r.body.fields).theme);
        setStatus("error", T.theme_errors);
      }
      else setStatus("error", (r.body && r.body.message) || T.failed);
    });
  }

  // -- start ----------------------------------------------------------------------------------
  function start() {
    renderPalette();
    var links = el("datalist", {id: "pe-links"});
    data.links.forEach(function (l) { links.appendChild(el("option", {value: l.value, label: l.label})); });
    document.body.appendChild(links);
    setUpDropTarget();
    $("#pe-settings").addEventListener("focusout", function () { state.typing = null; });
    $("#pe-undo").addEventListener("click", function () { restore(state.undo, state.redo); });
    $("#pe-redo").addEventListener("click", function () { restore(state.redo, state.undo); });
    $("#pe-publish").addEventListener("click", publish);
    $("#pe-versions-button").addEventListener("click", function () {
      var box = $("#pe-versions");
      box.hidden = !box.hidden;
      this.setAttribute("aria-expanded", String(!box.hidden));
      if (!box.hidden) loadVersions();
    });
    $("#pe-theme").addEventListener("change", function () {
      // each theme starts from its own saved settings (or the edits not applied yet), never from
      // its defaults: "Apply" must not overwrite what was saved for it
      var name = this.value;
      state.themeDrafts[state.theme.name] = state.theme.settings;
      state.theme = {name: name, settings: state.themeDrafts[name] || clone(THEMES[name].saved || THEMES[name].defaults)};
      state.themeErrors = {};
      renderTheme();
      schedulePreview();
    });
    $("#pe-theme-save").addEventListener("click", saveTheme);
    document.addEventListener("keydown", function (e) {
      var inField = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
      if (!(e.ctrlKey || e.metaKey) || inField) return;
      if (e.key.toLowerCase() === "z" && !e.shiftKey) { e.preventDefault(); restore(state.undo, state.redo); }
      else if (e.key.toLowerCase() === "y" || (e.key.toLowerCase() === "z" && e.shiftKey)) {
        e.preventDefault(); restore(state.redo, state.undo);
      }
    });
    window.addEventListener("beforeunload", function (e) {
      if (state.dirty) { save(); e.preventDefault(); e.returnValue = ""; }
    });
    setStatus("saved", T.saved);
    renderTheme();
    renderStage();
    renderSettings();
    updateUndoButtons();
    var productIds = [];
    Object.keys(state.doc.sections).forEach(function (id) {
      var s = state.doc.sections[id].settings || {};
      if (s.product) productIds.push(s.product);
      (s.products || []).forEach(function (p) { productIds.push(p); });
    });
    var loads = [loadMedia()];
    productIds.filter(function (id, i) { return productIds.indexOf(id) === i; }).forEach(function (id) {
      loads.push(api(data.urls.products + "/" + encodeURIComponent(id)).then(function (r) {
        if (r.ok) state.products[r.body.id] = pickable(r.body);
      }));
    });
    Promise.all(loads).then(renderSettings);
    refreshPreview().then(function () { document.body.dataset.editorReady = "true"; });
  }

  start();
}());
