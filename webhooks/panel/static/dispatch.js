// The dispatch board: live reloads of the grid, choosing a move (click or drag), its check.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var retry = 1000;
  var reloading = null;
  var changedWorkers = new Set();

  function grid() { return document.getElementById("grid"); }
  function form() { return document.getElementById("move"); }

  function query() {
    var g = grid();
    return "day=" + encodeURIComponent(g.dataset.day) + "&zone=" + encodeURIComponent(g.dataset.zone);
  }

  function choose(orderId, workerId) {
    var f = form();
    if (!f) { return; }
    if (orderId) { f.elements.order_id.value = orderId; }
    if (workerId) { f.elements.worker_id.value = workerId; }
    document.querySelectorAll(".job.selected").forEach(function (el) { el.classList.remove("selected"); });
    document.querySelectorAll('.job[data-order-id="' + f.elements.order_id.value + '"]')
      .forEach(function (el) { el.classList.add("selected"); });
    check();
  }

  function check() {
    var f = form();
    var note = document.getElementById("move-check");
    if (!f || !f.elements.order_id.value || !f.elements.worker_id.value) { return; }
    var url = "/panel/dispatch/check?order=" + encodeURIComponent(f.elements.order_id.value) +
      "&worker=" + encodeURIComponent(f.elements.worker_id.value) +
      "&start=" + encodeURIComponent(f.elements.start.value) + "&" + query();
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); })
      .then(function (answer) {
        note.textContent = answer.reason;
        note.className = answer.ok ? "fits" : "refused";
        document.getElementById("assign").disabled = !answer.ok;
      });
  }

  function reload() {
    var f = form();
    var kept = f ? { order: f.elements.order_id.value, worker: f.elements.worker_id.value,
                     start: f.elements.start.value } : null;
    fetch("/panel/dispatch/grid?" + query(), { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#grid");
        if (!fresh) { return; }
        grid().replaceWith(fresh);
        if (kept && form()) {
          form().elements.start.value = kept.start;
          choose(kept.order, kept.worker);
        }
        changedWorkers.forEach(function (id) {
          var row = document.querySelector('.board-row[data-worker-id="' + id + '"]');
          if (row) { row.classList.add("updated"); }
        });
        changedWorkers.clear();
        document.body.dataset.reloads = String(Number(document.body.dataset.reloads || 0) + 1);
      });
  }

  function scheduleReload(frame) {
    (frame.workers || []).forEach(function (id) { changedWorkers.add(id); });
    clearTimeout(reloading);
    reloading = setTimeout(reload, 250);
  }

  document.addEventListener("click", function (event) {
    var job = event.target.closest(".job[data-order-id]");
    if (job && grid().contains(job)) {
      var row = job.closest(".board-row");
      choose(job.dataset.orderId, null);
      if (row && form() && !form().elements.worker_id.value) { choose(null, row.dataset.workerId); }
    }
  });
  document.addEventListener("change", function (event) {
    if (form() && form().contains(event.target)) { choose(null, null); }
  });
  document.addEventListener("dragstart", function (event) {
    var job = event.target.closest && event.target.closest(".job[data-order-id]");
    if (job) { event.dataTransfer.setData("text/plain", job.dataset.orderId); }
  });
  document.addEventListener("dragover", function (event) {
    var row = event.target.closest && event.target.closest(".board-row");
    if (row) { event.preventDefault(); row.classList.add("drop-target"); }
  });
  document.addEventListener("dragleave", function (event) {
    var row = event.target.closest && event.target.closest(".board-row");
    if (row) { row.classList.remove("drop-target"); }
  });
  document.addEventListener("drop", function (event) {
    var row = event.target.closest && event.target.closest(".board-row");
    if (!row) { return; }
    event.preventDefault();
    row.classList.remove("drop-target");
    choose(event.dataTransfer.getData("text/plain"), row.dataset.workerId);
  });

  var plan = document.getElementById("plan-day");
  if (plan) {
    plan.addEventListener("submit", function () {
      var button = plan.querySelector("button");
      button.disabled = true;
      button.textContent = button.dataset.busy;
    });
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/panel/dispatch/ws?" + query());
    socket.onopen = function () { retry = 1000; };
    socket.onmessage = function (message) {
      var frame = JSON.parse(message.data);
      if (frame.type === "hello") { live.dataset.live = "on"; }
      else if (frame.type === "board") { scheduleReload(frame); }
    };
    socket.onclose = function () {
      live.dataset.live = "off";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }
  if (grid()) { connect(); }
})();
