/* The version page's question cards (intake/admin.py QuestionInline): a preview beside them
   that follows what is typed, and each card shows only the settings of its answer type.
   Without JavaScript the cards work as a plain form; "Preview as a patient" shows the form. */
(function () {
  "use strict";

  var group = document.getElementById("questions-group");
  var preview = document.querySelector("[data-question-preview]");
  if (!group) { return; }

  function cards() {
    return Array.prototype.filter.call(
      group.querySelectorAll(".inline-related"),
      function (card) {
        return !card.classList.contains("empty-form") && !/__prefix__/.test(card.id) &&
          !card.classList.contains("deleted_row");
      });
  }

  /* A field's value on a card: its control, or the text of a read-only field. */
  function field(card, name) {
    var control = card.querySelector("[name$='-" + name + "']");
    if (control) {
      if (control.type === "checkbox") { return control.checked ? "on" : ""; }
      return control.value;
    }
    var shown = card.querySelector(".field-" + name + " .readonly");
    return shown ? shown.textContent.trim() : "";
  }

  function shownText(card, name) {
    var control = card.querySelector("select[name$='-" + name + "']");
    if (control && control.selectedIndex >= 0) {
      return control.value ? control.options[control.selectedIndex].text : "";
    }
    return field(card, name);
  }

  var TYPE_NAMES = {
    "Yes or no": "boolean", "One choice": "single_choice", "Several choices": "multi_choice",
    "Whole number": "integer", "Text": "text"
  };

  function typeOf(card) {
    var value = field(card, "type");
    return TYPE_NAMES[value] || value;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function options(labels) {
    var list = element("ul", "preview-options");
    labels.forEach(function (label) { list.appendChild(element("li", "", label)); });
    return list;
  }

  function questionPreview(card) {
    var block = element("div", "preview-question");
    var type = typeOf(card);
    var text = field(card, "text") || "(no question text yet)";
    var required = field(card, "required");
    block.appendChild(element("p", "preview-text",
      text + (required === "on" || required === "True" ? " (required)" : " (optional)")));
    var hint = field(card, "help_text");
    if (hint) { block.appendChild(element("p", "preview-hint", hint)); }
    var condition = shownText(card, "condition_question");
    if (condition) {
      block.appendChild(element("p", "preview-condition",
        "Shown only if the answer to “" + condition.replace(/ \([a-z0-9_]+\)$/, "") + "” is " +
        (field(card, "condition_answer") || "…") + "."));
    }
    if (type === "boolean") {
      block.appendChild(options(["Yes", "No"]));
    } else if (type === "single_choice" || type === "multi_choice") {
      var labels = card.querySelector(".choice-labels");
      var text_ = labels ? labels.textContent.trim() : "";
      block.appendChild(text_ && text_ !== "None yet" ? options(text_.split("; ")) :
        element("p", "preview-hint", "(its choices: add them with “Edit choices” once saved)"));
    } else if (type === "integer") {
      var low = field(card, "min_value"), high = field(card, "max_value");
      block.appendChild(element("span", "preview-box",
        low !== "" && high !== "" ? "a number from " + low + " to " + high : "a number"));
    } else if (type === "text") {
      block.appendChild(element("span", "preview-box", "their own words"));
    }
    return block;
  }

  function render() {
    if (!preview) { return; }
    var fragment = document.createDocumentFragment();
    var section = null;
    cards().forEach(function (card) {
      var title = shownText(card, "section");
      if (title !== section) {
        section = title;
        fragment.appendChild(element("h3", "", title || "(no section chosen)"));
      }
      fragment.appendChild(questionPreview(card));
    });
    preview.textContent = "";
    preview.appendChild(fragment);
  }

  /* Only the settings of the card's answer type; a set that has a value stays shown. */
  function showTypeSettings(card) {
    var type = typeOf(card);
    [["question-range", "integer", ["min_value", "max_value"]],
     ["question-length", "text", ["max_length"]]].forEach(function (setting) {
      var fieldset = card.querySelector("fieldset." + setting[0]);
      if (!fieldset) { return; }
      var filled = setting[2].some(function (name) { return field(card, name) !== ""; });
      fieldset.hidden = !(type === setting[1] || filled || !type);
    });
  }

  var pending = null;
  function update() {
    if (pending) { return; }
    pending = window.setTimeout(function () {
      pending = null;
      cards().forEach(showTypeSettings);
      render();
    }, 100);
  }

  group.addEventListener("input", update);
  group.addEventListener("change", update);
  /* Dragging a card, adding or removing one. */
  new MutationObserver(update).observe(group, { childList: true, subtree: true });
  update();
}());
