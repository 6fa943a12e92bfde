// The bell in the page header: its unread count is rendered with the page and refreshed
// every minute (and when the tab comes back into view) from /notifications/unread/.
(function () {
  "use strict";
  var bell = document.querySelector("[data-notification-bell]");
  if (!bell) { return; }
  var badge = bell.querySelector("[data-unread-count]");
  function refresh() {
    if (document.hidden) { return; }
    fetch(bell.dataset.unreadUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        badge.textContent = data.unread > 99 ? "99+" : String(data.unread);
        badge.hidden = !data.unread;
      })
      .catch(function () { /* offline for a moment: the next tick tries again */ });
  }
  setInterval(refresh, 60000);
  document.addEventListener("visibilitychange", refresh);
})();
