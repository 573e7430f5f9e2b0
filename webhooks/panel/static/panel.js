// Live call popups: the server pushes JSON frames with pre-rendered, escaped HTML.
(function () {
  "use strict";
  var box = document.getElementById("popups");
  if (!box) { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var retry = 1000;

  function popup(frame) {
    var id = "call-" + frame.call_id;
    var el = document.getElementById(id);
    if (!el) {
      el = document.createElement("section");
      el.id = id;
      el.className = "popup";
      box.insertBefore(el, box.firstChild);
    }
    el.innerHTML = frame.html;
    el.dataset.state = frame.state;
    el.querySelectorAll('input[name="csrf_token"]').forEach(function (input) {
      input.value = csrf;
    });
  }

  function update(frame) {
    var el = document.getElementById("call-" + frame.call_id);
    if (!el) { return; }
    el.dataset.state = frame.state;
    var state = el.querySelector(".call-state");
    if (state) { state.textContent = frame.text; }
    if (frame.close) {
      setTimeout(function () { el.remove(); }, 3000);
    }
  }

  box.addEventListener("click", function (event) {
    var button = event.target.closest("[data-close]");
    if (button) { button.closest(".popup").remove(); }
  });

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/panel/ws");
    socket.onopen = function () { retry = 1000; };
    socket.onmessage = function (message) {
      var frame = JSON.parse(message.data);
      if (frame.type === "hello") { box.dataset.live = "on"; }
      else if (frame.type === "popup") { popup(frame); }
      else if (frame.type === "call") { update(frame); }
    };
    socket.onclose = function () {
      box.dataset.live = "off";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }
  connect();
})();
