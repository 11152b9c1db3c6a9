// Finance pages: while a reconciliation runs, reload the page every 5 seconds so its progress shows.
// Optional: without script the page says so and offers a link to reload it. The person can turn the
// reloading off (WCAG 2.2.1), which is why this is a script and not a <meta http-equiv="refresh">.
(function () {
  "use strict";
  var box = document.getElementById("auto-refresh");
  if (!box || !document.querySelector("[data-running]")) {
    return;
  }
  var control = document.getElementById("auto-refresh-control");
  if (control) {
    control.hidden = false;
  }
  window.setTimeout(function tick() {
    if (box.checked) {
      window.location.reload();
    } else {
      window.setTimeout(tick, 5000);
    }
  }, 5000);
})();
