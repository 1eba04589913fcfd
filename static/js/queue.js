// Keeps the review queue current without a reload: every few seconds the rows are fetched
// again and the ones that changed are swapped in.  A newly arrived emergency is announced
// visibly and to screen readers (#queue-announcer, role="alert"), and #queue-status says when
// the list was last brought up to date, or that it has stopped updating.
//
// Keyboard and screen-reader users must not lose their place: rows whose markup has not changed
// are left alone (so a poll usually touches nothing), and when the row holding the focus is
// replaced, the focus goes to the same case's link in the new row without scrolling.  If that
// case has left the queue, the focus stays in the table rather than falling to the top of the
// page.  Focus outside the table (the filters, the search box) is never touched.
(function () {
  "use strict";
  var body = document.getElementById("queue-rows");
  var table = document.getElementById("queue-table");
  var announcer = document.getElementById("queue-announcer");
  var status = document.getElementById("queue-status");
  if (!body) { return; }
  var POLL_MS = 3000;

  function rows(root) {
    return Array.prototype.filter.call(root.children, function (node) {
      return node.tagName === "TR";
    });
  }

  // The open emergencies the server reports, whatever the filters show: an emergency that a
  // filter hides is still announced.
  function emergencies(list) {
    var found = {};
    (list || "").split(" ").forEach(function (ref) { if (ref) { found[ref] = true; } });
    return found;
  }

  function clock() {
    return new Date().toLocaleTimeString("en-GB");
  }

  var known = emergencies(body.dataset.openEmergencies);
  var lastHtml = null;
  var failing = false;
  var failure = "";

  // "08:01:05: new emergency case ABCD-EFGH-JKMN (Ada Example).", the reference a link to the
  // case.  Built from text nodes, never parsed as markup.
  function announce(arrived) {
    announcer.textContent = "";
    announcer.appendChild(document.createTextNode(
      clock() + ": new emergency case" + (arrived.length > 1 ? "s" : "") + " "));
    arrived.forEach(function (reference, index) {
      var row = body.querySelector('tr[data-reference="' + reference + '"]');
      var link = document.createElement("a");
      link.href = body.dataset.caseUrl.replace("REFERENCE", encodeURIComponent(reference));
      link.textContent = reference;
      if (index) { announcer.appendChild(document.createTextNode(", ")); }
      announcer.appendChild(link);
      var name = row && row.querySelector(".patient-name");
      if (name) { announcer.appendChild(document.createTextNode(" (" + name.textContent + ")")); }
      if (!row) { announcer.appendChild(document.createTextNode(" (hidden by your filters)")); }
    });
    announcer.appendChild(document.createTextNode("."));
  }

  // Puts the fetched rows in place, keeping every row whose markup is unchanged.
  function update(html) {
    var fresh = document.createElement("tbody");
    fresh.innerHTML = html;

    var active = document.activeElement;
    var focusedHref = active && body.contains(active) && active.getAttribute("href");

    var current = {};
    rows(body).forEach(function (row) { current[row.dataset.reference || ""] = row; });
    var wanted = rows(fresh).map(function (row) {
      var same = current[row.dataset.reference || ""];
      return same && same.outerHTML === row.outerHTML ? same : row;
    });
    wanted.forEach(function (row, index) {
      var there = rows(body)[index];
      if (there !== row) { body.insertBefore(row, there || null); }
    });
    rows(body).slice(wanted.length).forEach(function (row) { body.removeChild(row); });

    if (focusedHref && !body.contains(document.activeElement)) {
      var again = body.querySelector('a[href="' + focusedHref + '"]');
      (again || table).focus({preventScroll: true});
    }
  }

  function checkEmergencies(list) {
    var now = emergencies(list);
    var arrived = Object.keys(now).filter(function (ref) { return !known[ref]; });
    known = now;
    if (arrived.length) { announce(arrived); }
  }

  function succeeded() {
    if (failing && announcer.textContent === failure) { announcer.textContent = ""; }
    failing = false;
    status.classList.remove("queue-status--stopped");
    status.textContent = "Updates by itself every few seconds; last updated " + clock() + ".";
  }

  function failed(signedOut) {
    if (failing) { return; }
    failing = true;
    failure = signedOut
      ? "This list has stopped updating because you are signed out: reload the page to sign in."
      : "This list has stopped updating (the service did not answer): still trying. " +
        "Reload the page if this stays.";
    status.classList.add("queue-status--stopped");
    status.textContent = "Not updating since " + clock() + ".";
    announcer.textContent = failure;
  }

  function refresh() {
    fetch(body.dataset.rowsUrl, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        // Signed out: the request was redirected to the login page.
        if (response.redirected) { failed(true); return null; }
        if (!response.ok) { failed(false); return null; }
        var open = response.headers.get("X-Open-Emergencies");
        return response.text().then(function (html) { return {html: html, open: open}; });
      })
      .then(function (page) {
        if (page === null) { return; }
        if (page.html !== lastHtml) { update(page.html); lastHtml = page.html; }
        checkEmergencies(page.open);
        succeeded();
      })
      .catch(function () { failed(false); })
      .then(function () { window.setTimeout(refresh, POLL_MS); });
  }
  window.setTimeout(refresh, POLL_MS);
})();
