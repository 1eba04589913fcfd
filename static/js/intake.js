// Progressive enhancement for the intake form.  Without JavaScript every question is shown (with
// a hint saying when to answer it) and the form still works.
(function () {
  "use strict";
  var form = document.getElementById("intake-form");
  if (!form) { return; }

  // Conditional questions: shown only while the question they depend on has the given answer.
  // A hidden question's controls are disabled so that nothing stale is sent.
  var conditional = form.querySelectorAll("[data-condition-question]");

  function answerMatches(code, wanted) {
    var controls = form.querySelectorAll('[name="' + code + '"]');
    for (var i = 0; i < controls.length; i++) {
      var c = controls[i];
      if ((c.type === "radio" || c.type === "checkbox") ? c.checked && c.value === wanted
                                                        : c.value === wanted) {
        return true;
      }
    }
    return false;
  }

  function update() {
    conditional.forEach(function (block) {
      var shown = answerMatches(block.dataset.conditionQuestion, block.dataset.conditionAnswer);
      block.hidden = !shown;
      block.querySelectorAll("input, textarea, select").forEach(function (control) {
        control.disabled = !shown;
      });
      var hint = block.querySelector(".condition-hint");
      if (hint) { hint.hidden = true; }  // the question appears only when it applies
    });
  }

  form.addEventListener("change", update);
  update();

  // A second click while the first submission is on its way does nothing (the server also
  // de-duplicates by the form's one-time token).
  form.addEventListener("submit", function () {
    var buttons = form.querySelectorAll("[data-prevent-double-submit]");
    window.setTimeout(function () {
      buttons.forEach(function (b) {
        b.disabled = true;
        b.textContent = b.dataset.busyText || "Sending…";
      });
    }, 0);
  });

  // The error summary gets focus first, so a screen reader reads it.  Its links go to a
  // question's block: move focus on to the control itself (the chosen option, or the first),
  // keeping the question's wording in view above it.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#question-']");
      var block = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!block) { return; }
      var control = block.querySelector("input:checked:not([disabled])") ||
                    block.querySelector("input:not([disabled]), textarea:not([disabled])");
      if (!control) { return; }
      event.preventDefault();
      block.scrollIntoView();
      control.focus({ preventScroll: true });
    });
  }
})();
