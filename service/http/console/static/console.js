// Live updates for the console's pages: listen to /console/events and swap in the fresh part of
// the page when a job changes. The pages read fine without this script.
(function () {
  "use strict";
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
        if (!fresh || !current) return;
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
