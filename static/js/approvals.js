/*
 * Approvals pages.
 * - A request form's [data-once] button is disabled once the form is submitted (the
 *   idempotency key covers a second click that gets through anyway).
 * - A request page's #request-live part is fetched again whenever a live event names
 *   this request (payload.request): execution steps and every request state change
 *   (approvals.request) are pushed; events are hints, the server renders the truth. It is
 *   also fetched once each time the live socket comes online (events sent before that
 *   are not delivered) and on "steward:resync" (events were lost).
 */
(function () {
  "use strict";

  function onceButtons() {
    document.querySelectorAll("form [data-once]").forEach(function (button) {
      button.form.addEventListener("submit", function (e) {
        // The "check approvals" button only previews; it must stay usable.
        if (e.submitter && !e.submitter.hasAttribute("data-once")) return;
        button.disabled = true;
      });
    });
  }

  function liveRequest() {
    var box = document.getElementById("request-live");
    if (!box) return;
    var id = Number(box.getAttribute("data-request"));
    var timer = null;
    function refresh() {
      timer = null;
      fetch(box.getAttribute("data-refresh-url"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) return;
          box.innerHTML = html;
        });
    }
    document.addEventListener("steward:live", function (e) {
      var payload = (e.detail && e.detail.payload) || {};
      if (Number(payload.request !== undefined ? payload.request : payload.request_id) !== id) return;
      // Several events in a burst (step done, next step started) cost one fetch.
      if (timer === null) timer = window.setTimeout(refresh, 150);
    });
    // Events were lost (a gap, a burst the server dropped, a reconnect): catch up.
    document.addEventListener("steward:resync", function () {
      if (timer === null) timer = window.setTimeout(refresh, 0);
    });
    // What was pushed between rendering and the socket coming up (or while it was
    // down) never arrives: catch up once whenever it comes online.
    new MutationObserver(function () {
      if (document.documentElement.getAttribute("data-live") === "online" && timer === null) {
        timer = window.setTimeout(refresh, 0);
      }
    }).observe(document.documentElement, { attributes: true, attributeFilter: ["data-live"] });
  }

  function start() {
    onceButtons();
    liveRequest();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
