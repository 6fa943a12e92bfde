// Page behaviour that used to be inline (onsubmit=, onchange=, <script> blocks): the
// Content-Security-Policy (script-src 'self', no 'unsafe-inline') runs only files.
(function () {
  "use strict";
  // <form data-confirm="question">: ask before submitting.
  document.addEventListener("submit", function (e) {
    var form = e.target.closest ? e.target.closest("form[data-confirm]") : null;
    if (form && !window.confirm(form.dataset.confirm)) { e.preventDefault(); }
  });
  // <select data-autosubmit>: submit its form on change.
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el.matches && el.matches("[data-autosubmit]") && el.form) { el.form.submit(); }
  });
  // <div data-reload-on-job-finished="800">: when a job on the page ends (the progress
  // component fires job:finished), reload once so the server renders the new state.
  document.addEventListener("job:finished", function () {
    var el = document.querySelector("[data-reload-on-job-finished]");
    if (!el || el.dataset.reloading) { return; }
    el.dataset.reloading = "1";
    setTimeout(function () { window.location.reload(); }, parseInt(el.dataset.reloadOnJobFinished, 10) || 800);
  });
})();
