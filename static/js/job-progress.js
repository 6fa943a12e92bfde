// The one progress component: every [data-job-progress] element polls its job's status
// JSON once a second and updates its bar until the job is done or failed. When it ends,
// the element fires a "job:finished" event (the page may react, e.g. reload a table).
(function () {
  "use strict";
  function render(el, job) {
    var bar = el.querySelector("[data-job-bar]");
    bar.style.width = job.percent + "%";
    bar.textContent = job.percent + "%";
    el.querySelector(".progress").setAttribute("aria-valuenow", job.percent);
    el.querySelector("[data-job-state]").textContent = job.state_label;
    el.querySelector("[data-job-count]").textContent = job.done + " / " + job.total;
    el.querySelector("[data-job-message]").textContent = job.message || "";
    el.dataset.state = job.state;
    if (job.finished) {
      bar.classList.remove("progress-bar-animated");
      bar.classList.toggle("bg-success", job.state === "done");
      bar.classList.toggle("bg-danger", job.state === "failed");
      var result = el.querySelector("[data-job-result]");
      result.textContent = "";
      if (job.result_file) {
        var a = document.createElement("a");
        a.href = job.result_file;
        a.textContent = "下载结果文件";
        a.className = "btn btn-sm btn-outline-primary";
        result.appendChild(a);
      }
      var retry = el.querySelector("[data-job-retry]");
      if (retry) { retry.hidden = job.state !== "failed"; }
      el.dispatchEvent(new CustomEvent("job:finished", { bubbles: true, detail: job }));
    }
  }
  function poll(el) {
    fetch(el.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (job) {
        render(el, job);
        if (!job.finished) { setTimeout(function () { poll(el); }, 1000); }
      })
      .catch(function () { setTimeout(function () { poll(el); }, 3000); });
  }
  function start(root) {
    (root || document).querySelectorAll("[data-job-progress]:not([data-polling])").forEach(function (el) {
      el.setAttribute("data-polling", "1");
      // The server renders the percentage as data (a style="" attribute would break the CSP).
      var bar = el.querySelector("[data-job-bar]");
      if (bar && bar.dataset.percent) { bar.style.width = bar.dataset.percent + "%"; }
      poll(el);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { start(document); });
  document.addEventListener("htmx:afterSwap", function (e) { start(e.target); });
})();
