// rehost console: multi-select, live job progress, create-form helpers. No build step.
(function () {
  "use strict";

  function setupSelection() {
    var form = document.getElementById("job-batch");
    if (!form) return;
    var all = document.getElementById("select-all");
    var boxes = function () { return form.querySelectorAll("input[name=job_id]"); };
    var counter = document.getElementById("selected-count");
    var buttons = form.querySelectorAll("button[data-needs-selection]");
    var refresh = function () {
      var n = 0;
      boxes().forEach(function (b) { if (b.checked) n++; });
      if (counter) counter.textContent = String(n);
      buttons.forEach(function (btn) {
        var max = Number(btn.getAttribute("data-max") || "0");
        btn.disabled = n === 0 || (max > 0 && n > max);
      });
      var over = document.getElementById("batch-limit-note");
      if (over) over.hidden = n <= 10;
    };
    if (all) all.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = all.checked; });
      refresh();
    });
    form.addEventListener("change", refresh);
    refresh();
  }

  function applyProgress(row, job) {
    var set = function (sel, text) {
      var el = row.querySelector(sel);
      if (el && text !== undefined && text !== null) el.textContent = text;
    };
    var badge = row.querySelector("[data-field=status]");
    if (badge) { badge.textContent = job.status_label; badge.className = "badge " + job.status_tone; }
    set("[data-field=business]", job.business_label);
    set("[data-field=cycle]", job.cycle_text);
    set("[data-field=next_cycle]", job.next_cycle_text);
    var cycle = row.querySelector("[data-field=cycle-info]");
    if (cycle) cycle.hidden = !job.incremental;
    set("[data-field=percent]", job.percent_text);
    set("[data-field=rate]", job.rate_text);
    set("[data-field=eta]", job.eta_text);
    set("[data-field=bytes]", job.bytes_text);
    var bar = row.querySelector("[data-field=bar]");
    if (bar) {
      bar.style.width = (job.percent === null ? 0 : job.percent) + "%";
      var outer = bar.parentElement;
      if (outer && job.percent !== null) outer.setAttribute("aria-valuenow", String(job.percent));
    }
    var result = row.querySelector("[data-field=result]");
    if (result && job.result_html !== undefined) result.innerHTML = job.result_html;
    ["can_start", "can_pause"].forEach(function (flag) {
      var btn = row.querySelector("[data-field=" + flag + "]");
      if (btn) btn.hidden = !job[flag];
    });
    row.setAttribute("data-live", job.live ? "1" : "0");
  }

  function setupPolling() {
    var table = document.querySelector("[data-progress-url]");
    if (!table) return;
    var url = table.getAttribute("data-progress-url");
    var interval = Number(table.getAttribute("data-poll-ms") || "3000");
    var tick = function () {
      var rows = table.querySelectorAll("tr[data-job-id]");
      var ids = [];
      rows.forEach(function (r) { ids.push(r.getAttribute("data-job-id")); });
      if (ids.length === 0) return;
      fetch(url + "?ids=" + encodeURIComponent(ids.join(",")), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (resp) { return resp.ok ? resp.json() : null; })
        .then(function (data) {
          if (!data) return;
          data.jobs.forEach(function (job) {
            var row = table.querySelector('tr[data-job-id="' + job.job_id + '"]');
            if (row) applyProgress(row, job);
          });
          table.setAttribute("data-updated", data.updated_at);
        })
        .catch(function () { /* next tick retries */ });
    };
    window.setInterval(tick, interval);
    tick();
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localValue(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function setupJobForm() {
    var form = document.getElementById("create-job");
    if (!form) return;
    var tz = form.querySelector("input[name=tz_offset_min]");
    if (tz) tz.value = String(new Date().getTimezoneOffset());
    var picker = document.getElementById("scheduled_start_time");
    var wrap = document.getElementById("schedule-field");
    var sync = function () {
      var mode = form.querySelector("input[name=mode]:checked");
      var scheduled = mode && mode.value === "scheduled";
      if (wrap) wrap.hidden = !scheduled;
      if (picker) picker.required = !!scheduled;
    };
    form.querySelectorAll("input[name=mode]").forEach(function (r) { r.addEventListener("change", sync); });
    sync();
    var cycles = document.getElementById("incremental-fields");
    var syncCycles = function () {
      var kind = form.querySelector("input[name=run_once]:checked");
      if (cycles) cycles.hidden = !(kind && kind.value === "false");
    };
    form.querySelectorAll("input[name=run_once]").forEach(function (r) { r.addEventListener("change", syncCycles); });
    syncCycles();
    if (picker) {
      var check = function () {
        var earliest = new Date(Date.now() + 10 * 60 * 1000);
        picker.min = localValue(earliest);
        picker.max = localValue(new Date(Date.now() + 30 * 24 * 3600 * 1000));
        var msg = picker.getAttribute("data-too-early") || "";
        var chosen = picker.value ? new Date(picker.value) : null;
        picker.setCustomValidity(chosen && chosen < earliest ? msg : "");
      };
      picker.addEventListener("input", check);
      picker.addEventListener("focus", check);
      form.addEventListener("submit", function (ev) {
        check();
        var mode = form.querySelector("input[name=mode]:checked");
        if (mode && mode.value === "scheduled" && !picker.checkValidity()) {
          ev.preventDefault();
          picker.reportValidity();
          picker.focus();
        }
      });
    }
  }

  function setupCopy() {
    document.querySelectorAll("button[data-copy]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var target = document.getElementById(btn.getAttribute("data-copy"));
        if (target && navigator.clipboard) navigator.clipboard.writeText(target.textContent || "");
      });
    });
  }

  function setupConfirm() {
    document.addEventListener("submit", function (ev) {
      var btn = ev.submitter;
      var msg = btn && btn.getAttribute("data-confirm");
      if (msg && !window.confirm(msg)) ev.preventDefault();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupConfirm();
    setupSelection();
    setupPolling();
    setupJobForm();
    setupCopy();
  });
})();
