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
//
// The page shows the first 50 cases; "Show more" (#queue-more, a plain link that works without
// JavaScript) fetches the next 50 and appends them, moving the focus to the first new case, and
// from then on the polls ask for all the rows shown.  Polls are conditional: the server's ETag
// is kept here and sent back as If-None-Match, and a 304 means nothing changed, so nothing is
// fetched or touched.  The responses are Cache-Control: no-store (patient data stays out of the
// browser's cache), so the browser would not do this by itself.
(function () {
  "use strict";
  var body = document.getElementById("queue-rows");
  var table = document.getElementById("queue-table");
  var announcer = document.getElementById("queue-announcer");
  var status = document.getElementById("queue-status");
  var more = document.getElementById("queue-more");
  if (!body) { return; }
  var POLL_MS = parseInt(body.dataset.pollMs, 10) || 3000;  // QUEUE_POLL_SECONDS
  var PAGE_SIZE = parseInt(body.dataset.pageSize, 10) || 50;
  var shown = parseInt(body.dataset.shown, 10) || PAGE_SIZE;
  var etag = null;

  function rowsUrl(count, start) {
    return body.dataset.rowsUrl + "?shown=" + count + (start ? "&start=" + start : "");
  }

  // The "Show more" link as the server says: where it leads, or hidden when nothing follows.
  function showMore(url) {
    if (!more || url === null) { return; }
    if (url) { more.href = url; }
    more.hidden = !url;
  }

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
    var asked = shown;
    var headers = {"Accept": "text/html"};
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(rowsUrl(asked), {credentials: "same-origin", cache: "no-store", headers: headers})
      .then(function (response) {
        // Signed out: the request was redirected to the login page.
        if (response.redirected) { failed(true); return null; }
        if (response.status === 304) { succeeded(); return null; }  // nothing changed
        if (!response.ok) { failed(false); return null; }
        var page = {open: response.headers.get("X-Open-Emergencies"),
                    etag: response.headers.get("ETag"),
                    more: response.headers.get("X-Queue-More")};
        return response.text().then(function (html) { page.html = html; return page; });
      })
      .then(function (page) {
        if (page === null) { return; }
        // "Show more" added rows meanwhile: this answer is for fewer, so the next poll asks again.
        if (asked !== shown) { return; }
        if (page.html !== lastHtml) { update(page.html); lastHtml = page.html; }
        etag = page.etag;
        showMore(page.more);
        checkEmergencies(page.open);
        succeeded();
      })
      .catch(function () { failed(false); })
      .then(function () { window.setTimeout(refresh, POLL_MS); });
  }
  // "Show more": the next rows appended (any already shown, after the queue moved, left out),
  // and the focus on the first new case so keyboard and screen-reader users carry on there.
  // If the fetch fails, the link is followed as without JavaScript.
  function loadMore(event) {
    event.preventDefault();
    var start = shown;
    fetch(rowsUrl(start + PAGE_SIZE, start),
          {credentials: "same-origin", cache: "no-store", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (response.redirected || !response.ok) { throw new Error("not loaded"); }
        var next = response.headers.get("X-Queue-More");
        return response.text().then(function (html) { return {html: html, more: next}; });
      })
      .then(function (page) {
        var fresh = document.createElement("tbody");
        fresh.innerHTML = page.html;
        var first = null;
        rows(fresh).forEach(function (row) {
          var reference = row.dataset.reference;
          if (reference && body.querySelector('tr[data-reference="' + reference + '"]')) {
            return;
          }
          body.appendChild(row);
          first = first || row;
        });
        shown = start + PAGE_SIZE;
        etag = null;
        lastHtml = null;
        showMore(page.more);
        var link = first && first.querySelector("a");
        if (link) { link.focus(); }
      })
      .catch(function () { window.location.href = more.href; });
  }
  if (more) { more.addEventListener("click", loadMore); }

  window.setTimeout(refresh, POLL_MS);
})();
