/*
 * Steward live updates: one websocket per tab to /ws/live/.
 *
 * The server sends numbered, coalesced frames {"seq": n, "events": [...], "resync"?}
 * (contract in governance/core/realtime.py). Every event {"event": name, "payload": {...}}
 * becomes a DOM event "steward:<name>" on document (detail = payload), plus a generic
 * "steward:live" (detail = {event, payload}) for listeners that want everything. Pages
 * listen with
 *   document.addEventListener("steward:activity", (e) => ...e.detail...)
 *
 * "steward:resync" (detail = {reason}) means events were lost: the server said so
 * ("resync": true), a seq number was skipped ("gap"), or the socket came back after
 * being down ("reconnect"). Live regions re-render from the server when they hear it.
 *
 * The connection reconnects with capped exponential backoff and jitter, and stops for
 * good when the server says the session is gone (close code 4401). The element
 * [data-live-status] shows the state: connecting, online, offline or signed-out.
 * Elements [data-live-feed] list incoming events (newest first).
 */
(function () {
  "use strict";

  var CLOSE_UNAUTHENTICATED = 4401;
  var BACKOFF_START_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  var FEED_LIMIT = 50;
  var LABELS = {
    connecting: "Connecting",
    online: "Live",
    offline: "Reconnecting",
    "signed-out": "Signed out",
  };

  var socket = null;
  var attempt = 0;
  var retryTimer = null;
  var everOnline = false;
  var lastSeq = 0;

  function setStatus(state) {
    document.querySelectorAll("[data-live-status]").forEach(function (el) {
      el.setAttribute("data-live-status", state);
      var text = el.querySelector(".live-status__text");
      if (text) text.textContent = LABELS[state] || state;
    });
    document.documentElement.setAttribute("data-live", state);
  }

  function url() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + "/ws/live/";
  }

  function nextDelay() {
    var base = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * Math.pow(2, attempt));
    attempt += 1;
    // Jitter spreads reconnections after a server restart so they do not stampede.
    return base / 2 + Math.random() * (base / 2);
  }

  function dispatch(message) {
    if (!message || typeof message.event !== "string") return;
    var payload = message.payload || {};
    document.dispatchEvent(new CustomEvent("steward:" + message.event, { detail: payload }));
    document.dispatchEvent(
      new CustomEvent("steward:live", { detail: { event: message.event, payload: payload } })
    );
  }

  function resync(reason) {
    document.dispatchEvent(new CustomEvent("steward:resync", { detail: { reason: reason } }));
  }

  function receiveFrame(frame) {
    if (!frame || typeof frame !== "object") return;
    if (typeof frame.seq === "number") {
      var gap = frame.seq !== lastSeq + 1;
      lastSeq = frame.seq;
      if (frame.resync) resync("server");
      else if (gap) resync("gap");
    }
    if (Array.isArray(frame.events)) frame.events.forEach(dispatch);
    else dispatch(frame);
  }

  function connect() {
    retryTimer = null;
    setStatus(attempt === 0 ? "connecting" : "offline");
    try {
      socket = new WebSocket(url());
    } catch (err) {
      schedule();
      return;
    }
    socket.addEventListener("open", function () {
      attempt = 0;
      lastSeq = 0;
      setStatus("online");
      // Whatever was published while the socket was down never arrives.
      if (everOnline) resync("reconnect");
      everOnline = true;
    });
    socket.addEventListener("message", function (e) {
      var message;
      try {
        message = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      receiveFrame(message);
    });
    socket.addEventListener("close", function (e) {
      socket = null;
      if (e.code === CLOSE_UNAUTHENTICATED) {
        setStatus("signed-out");
        return;
      }
      setStatus("offline");
      schedule();
    });
  }

  function schedule() {
    if (retryTimer !== null) return;
    retryTimer = window.setTimeout(connect, nextDelay());
  }

  function formatTime(iso) {
    var date = iso ? new Date(iso) : new Date();
    if (isNaN(date.getTime())) date = new Date();
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  // Text only (never innerHTML): payloads may carry user-supplied strings.
  function renderFeedItem(detail) {
    var payload = detail.payload || {};
    var item = document.createElement("li");
    item.className = "feed__item";
    var time = document.createElement("time");
    time.className = "feed__time";
    if (payload.at) time.setAttribute("datetime", payload.at);
    time.textContent = formatTime(payload.at);
    var text = document.createElement("span");
    text.className = "feed__text";
    text.textContent = payload.text || detail.event;
    item.appendChild(time);
    item.appendChild(text);
    return item;
  }

  document.addEventListener("steward:live", function (e) {
    document.querySelectorAll("[data-live-feed]").forEach(function (feed) {
      feed.insertBefore(renderFeedItem(e.detail), feed.firstChild);
      while (feed.children.length > FEED_LIMIT) feed.removeChild(feed.lastChild);
      var empty = feed.parentElement && feed.parentElement.querySelector("[data-live-empty]");
      if (empty) empty.hidden = true;
    });
  });

  // A tab back from sleep or a network change should not wait out a long backoff.
  window.addEventListener("online", function () {
    if (socket === null && retryTimer !== null) {
      window.clearTimeout(retryTimer);
      attempt = 0;
      connect();
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
})();
