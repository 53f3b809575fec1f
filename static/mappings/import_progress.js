/* Progress of a mapping import (admin): polls the job's status URL and moves the bar; when
   the job has finished, reloads the page, which then shows the preview or the summary. */
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) {
    return;
  }
  var url = box.getAttribute("data-status-url");
  var bar = box.querySelector("progress");
  var processed = box.querySelector("[data-processed]");
  var total = box.querySelector("[data-total]");
  var percent = box.querySelector("[data-percent]");
  var label = box.querySelector("[data-label]");
  var waiting = box.querySelector("[data-waiting]");
  var interval = 500;

  function show(state) {
    if (state.total) {
      bar.max = state.total;
      bar.value = state.processed;
    } else {
      bar.removeAttribute("value"); /* indeterminate until the file is read */
    }
    processed.textContent = state.processed.toLocaleString();
    total.textContent = state.total ? state.total.toLocaleString() : "?";
    percent.textContent = state.percent;
    label.textContent = state.label;
    if (waiting && state.status !== "queued") {
      waiting.hidden = true;
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        if (!answer.ok) {
          throw new Error(answer.status);
        }
        return answer.json();
      })
      .then(function (state) {
        show(state);
        if (state.finished) {
          window.location.reload();
        } else {
          window.setTimeout(poll, interval);
        }
      })
      .catch(function () {
        window.setTimeout(poll, interval * 4); /* a busy server: try again later */
      });
  }

  box.classList.add("import-progress-live");
  window.setTimeout(poll, interval);
})();
