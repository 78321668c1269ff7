// Live updates for the console's pages: listen to /console/events and swap in the fresh part of
// the page when a job changes. The pages read fine without this script.
(function () {
  "use strict";
  // A Copy button copies its element's text (a restore's host:port); where the page may not write
  // the clipboard (plain http on another host), it selects the text for Ctrl+C instead.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    var source = button && document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent.trim();
    function selectIt() {
      var range = document.createRange();
      range.selectNodeContents(source);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
    if (!navigator.clipboard || !window.isSecureContext) { selectIt(); return; }
    navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; }, selectIt);
  });

  var body = document.body;
  var live = body.getAttribute("data-live");
  if (!live || !window.EventSource) return;
  var jobId = body.getAttribute("data-job-id");
  var source = new EventSource("/console/events" + (live === "job" ? "?job=" + encodeURIComponent(jobId) : ""));
  var pending = false;
  var again = false;

  // One fetch at a time; a change that arrives meanwhile fetches once more when it is done.
  function swap(url, id) {
    if (pending) { again = true; return; }
    pending = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(id);
        var current = document.getElementById(id);
        // Nothing changed (a repeated announcement): keep the page as it is, a selection included.
        if (!fresh || !current || fresh.outerHTML === current.outerHTML) return;
        // What a person is typing (an approval's comment) survives the swap, in the same form.
        current.querySelectorAll("form[id] textarea[name], form[id] input[type=text][name]").forEach(function (field) {
          var twin = fresh.querySelector("#" + field.form.id + " [name='" + field.name + "']");
          if (twin && field.value) twin.value = field.value;
        });
        current.replaceWith(fresh);
      })
      .finally(function () {
        pending = false;
        if (again) { again = false; swap(url, id); }
      });
  }

  // A list's page refreshes on any job's change, and on `jobs` (any job may have changed).
  function refreshList() {
    if (live === "jobs") {
      var query = new URLSearchParams(window.location.search);
      query.set("fragment", "live");
      swap(window.location.pathname + "?" + query.toString(), "jobs-live");
    } else if (live === "reload" && !pending) {
      // The overview summarises many jobs: one reload for a burst of changes.
      pending = true;
      window.setTimeout(function () { window.location.reload(); }, 2000);
    }
  }

  source.addEventListener("job", function (message) {
    var job = JSON.parse(message.data);
    if (live === "job") {
      // The live part holds the state, reasons, timeline, plan and forms: they change together.
      if (job.id === jobId) swap(window.location.pathname + "?fragment=live", "job-live");
    } else {
      refreshList();
    }
  });
  source.addEventListener("jobs", refreshList);
  // Once subscribed (and after each reconnection), what changed since the rows were rendered.
  source.addEventListener("open", function () { if (live === "jobs") refreshList(); });
})();
