// "To decide": the lists read themselves again when what waits for a manager changes.
(function () {
  "use strict";
  var desk = document.getElementById("desk");
  if (!desk) { return; }
  var retry = 1000;
  var pending = null;
  var connectedBefore = false;

  function reload() {
    pending = null;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        return response.ok ? response.text() : Promise.reject(response.status);
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("desk");
        if (fresh) {
          desk.innerHTML = fresh.innerHTML;
          desk.dataset.revision = String(Number(desk.dataset.revision || 0) + 1);
        }
      })
      .catch(function () { /* the next change, or the next visit, reads it again */ });
  }

  function soon() {
    // Several changes at once (a manager approving a few extras) make one read.
    if (!pending) { pending = setTimeout(reload, 150); }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/panel/waiting/ws");
    socket.onopen = function () { retry = 1000; };
    socket.onmessage = function (message) {
      var frame = JSON.parse(message.data);
      if (frame.type === "hello") {
        desk.dataset.live = "on";
        if (connectedBefore) { soon(); }  // what changed while the socket was down
        connectedBefore = true;
      } else if (frame.type === "desk") { soon(); }
    };
    socket.onclose = function () {
      desk.dataset.live = "off";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }
  connect();
})();
