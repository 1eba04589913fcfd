// Keeps the review queue current without a reload: every few seconds the rows are fetched
// again and swapped in.  A newly arrived emergency is announced visibly and to screen readers.
(function () {
  "use strict";
  var body = document.getElementById("queue-rows");
  var announcer = document.getElementById("queue-announcer");
  if (!body) { return; }
  var POLL_MS = 3000;

  function emergencies(root) {
    var found = {};
    root.querySelectorAll('tr[data-urgency="emergency"]').forEach(function (row) {
      found[row.dataset.reference] = true;
    });
    return found;
  }

  var known = emergencies(body);

  function refresh() {
    fetch(body.dataset.rowsUrl, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (response.redirected || !response.ok) { throw new Error("queue unavailable"); }
        return response.text();
      })
      .then(function (html) {
        // Keep keyboard focus on the same case if it was inside the table.
        var focused = document.activeElement && body.contains(document.activeElement)
          ? document.activeElement.getAttribute("href") : null;
        var template = document.createElement("tbody");
        template.innerHTML = html;
        var now = emergencies(template);
        var arrived = Object.keys(now).filter(function (ref) { return !known[ref]; });
        body.innerHTML = template.innerHTML;
        known = now;
        if (focused) {
          var again = body.querySelector('a[href="' + focused + '"]');
          if (again) { again.focus(); }
        }
        if (arrived.length) {
          announcer.hidden = false;
          announcer.textContent = "New emergency case" + (arrived.length > 1 ? "s" : "") +
            ": " + arrived.join(", ") + ".";
        }
      })
      .catch(function () { /* try again at the next tick */ })
      .then(function () { window.setTimeout(refresh, POLL_MS); });
  }
  window.setTimeout(refresh, POLL_MS);
})();
