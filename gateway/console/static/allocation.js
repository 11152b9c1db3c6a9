// Progressive enhancement for a running plan's page (the page works without it: a <noscript>
// meta refresh reloads it). Every two seconds, read the page again and update the progress bar in
// place; when the plan is no longer running, load the finished page. A button pauses the updates
// (WCAG 2.2.1: timing the user can turn off).
(function () {
  "use strict";
  var bar = document.getElementById("progress");
  var note = document.getElementById("progress-note");
  if (!bar || !note || !window.fetch || !window.DOMParser) {
    return;
  }
  var paused = false;
  var button = document.createElement("button");
  button.type = "button";
  button.id = "pause-updates";
  button.textContent = "Pause updates";
  button.addEventListener("click", function () {
    paused = !paused;
    button.textContent = paused ? "Resume updates" : "Pause updates";
    if (!paused) {
      schedule();
    }
  });
  note.appendChild(document.createTextNode(" "));
  note.appendChild(button);

  function schedule() {
    window.setTimeout(poll, 2000);
  }

  function poll() {
    if (paused) {
      return;
    }
    window.fetch(window.location.pathname, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.text(); })
      .then(function (text) {
        var fresh = new window.DOMParser().parseFromString(text, "text/html");
        var next = fresh.getElementById("progress");
        if (!next) {
          window.location.replace(window.location.pathname);
          return;
        }
        bar.value = next.value;
        bar.textContent = next.textContent;
        var label = document.querySelector('label[for="progress"]');
        var nextLabel = fresh.querySelector('label[for="progress"]');
        if (label && nextLabel) {
          label.textContent = nextLabel.textContent;
        }
        schedule();
      })
      .catch(schedule);
  }

  schedule();
})();
