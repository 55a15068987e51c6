/* WeChat share for storefront pages (loaded by storefront/base.html inside WeChat only, in a store
   with an official account): loads WeChat's JS-SDK (data-sdk), asks the store for a signed
   wx.config for this page (data-config?url=<this page without #fragment>), then hands WeChat the
   page's share data, #share-data (product page) or #gb-share-data (a group-buy group):
   {title, desc, link, imgUrl}. Outside WeChat, or on a page without share data, it does nothing
   and sends nothing; when anything fails, WeChat's menu shares the page as it would anyway. */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!/MicroMessenger/i.test(navigator.userAgent) || !script) { return; }
  var configUrl = script.getAttribute("data-config");
  var sdkUrl = script.getAttribute("data-sdk");

  function shareData() {
    var ids = ["share-data", "gb-share-data"];
    for (var i = 0; i < ids.length; i += 1) {
      var element = document.getElementById(ids[i]);
      if (!element) { continue; }
      try {
        var data = JSON.parse(element.textContent);
        if (data && typeof data === "object" && data.link) { return data; }
      } catch (error) { /* not JSON: nothing to share */ }
    }
    return null;
  }

  function loadSdk() {
    return new Promise(function (resolve, reject) {
      if (window.wx && typeof window.wx.config === "function") { resolve(window.wx); return; }
      var tag = document.createElement("script");
      tag.src = sdkUrl;
      tag.onload = function () { if (window.wx) { resolve(window.wx); } else { reject(new Error("no wx")); } };
      tag.onerror = function () { reject(new Error("the JS-SDK did not load")); };
      document.head.appendChild(tag);
    });
  }

  function signedConfig() {
    var page = window.location.href.split("#")[0];
    var url = configUrl + (configUrl.indexOf("?") < 0 ? "?" : "&") + "url=" + encodeURIComponent(page);
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}}).then(function (response) {
      if (!response.ok) { throw new Error("no signed config: HTTP " + response.status); }
      return response.json();
    });
  }

  function share(wx, config, data) {
    wx.config({debug: false, appId: config.appId, timestamp: config.timestamp, nonceStr: config.nonceStr,
               signature: config.signature, jsApiList: config.jsApiList});
    wx.ready(function () {
      var message = {title: data.title || document.title, desc: data.desc || "", link: data.link, imgUrl: data.imgUrl || ""};
      wx.updateAppMessageShareData(message);
      wx.updateTimelineShareData({title: message.title, link: message.link, imgUrl: message.imgUrl});
    });
    wx.error(function () { /* a bad signature or domain: WeChat shares the page as it is */ });
  }

  var data = shareData();
  if (!configUrl || !sdkUrl || !data || !window.fetch || !window.Promise) { return; }
  Promise.all([loadSdk(), signedConfig()]).then(function (found) {
    share(found[0], found[1], data);
  }).catch(function () { /* WeChat's own menu still shares the page */ });
}());
