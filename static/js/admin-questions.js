/* The version page's question cards (intake/admin.py QuestionInline): a preview beside them
   that follows what is typed (the question, its hint and its choices, saved or not), each
   card shows only the settings of its answer type, and a card's choices are added and moved
   here ("Add a choice", "Move up", "Move down"; "Remove" is the formset's own checkbox).
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

  /* The card's choices as they stand: the rows being edited (not those ticked Remove, nor
     empty new ones), or the list shown on a card that cannot be edited. */
  function choiceLabels(card) {
    var rows = card.querySelectorAll(".card-choice-rows > .card-choice");
    if (rows.length) {
      return Array.prototype.map.call(rows, function (row) {
        var remove = row.querySelector("input.choice-remove");
        var label = row.querySelector("input.choice-label");
        return remove && remove.checked ? "" : (label ? label.value.trim() : "");
      }).filter(Boolean);
    }
    return Array.prototype.map.call(card.querySelectorAll(".choice-label-shown"),
      function (node) { return node.textContent.trim(); });
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
      var labels = choiceLabels(card);
      block.appendChild(labels.length ? options(labels) :
        element("p", "preview-hint", "(no choices yet: add them on the card)"));
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
    var choices = card.querySelector(".field-card_choices");
    if (choices) {
      choices.hidden = !(type === "single_choice" || type === "multi_choice" || !type ||
                         choiceLabels(card).length);
    }
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

  /* A card's choices: "Add a choice" makes a row from the card's <template>, numbered after
     the rows there (Django's formset prefix), placed last; Move up / Move down swap a row with
     its neighbour and number every row's position in the order shown. */
  function choiceRows(container) {
    return Array.prototype.slice.call(
      container.querySelectorAll(".card-choice-rows > .card-choice"));
  }

  function numberRows(container) {
    choiceRows(container).forEach(function (row, index) {
      var position = row.querySelector("input.choice-position");
      if (position) { position.value = String(index + 1); }
    });
  }

  function moveButtons(container, row) {
    var slot = row.querySelector(".card-choice-move");
    if (!slot || slot.childNodes.length) { return; }
    [["Move up", -1], ["Move down", 1]].forEach(function (move) {
      var control = element("button", "button card-choice-" + (move[1] < 0 ? "up" : "down"),
                            move[0]);
      control.type = "button";
      control.addEventListener("click", function () {
        var rows = choiceRows(container);
        var other = rows[rows.indexOf(row) + move[1]];
        if (!other) { return; }
        if (move[1] < 0) { other.before(row); } else { other.after(row); }
        numberRows(container);
        control.focus();
        update();
      });
      slot.appendChild(control);
    });
  }

  function addChoice(container) {
    var total = container.querySelector("input[name$='-TOTAL_FORMS']");
    var template = container.querySelector("template.card-choice-template");
    if (!total || !template) { return; }
    var prefix = total.name.replace(/-TOTAL_FORMS$/, "");
    var index = parseInt(total.value, 10);
    var html = template.innerHTML.split(container.dataset.emptyPrefix)
      .join(prefix + "-" + index);
    var holder = document.createElement("ol");
    holder.innerHTML = html;
    var row = holder.querySelector(".card-choice");
    container.querySelector(".card-choice-rows").appendChild(row);
    total.value = String(index + 1);
    var positions = choiceRows(container).map(function (other) {
      var input = other.querySelector("input.choice-position");
      return input && input.value ? parseInt(input.value, 10) || 0 : 0;
    });
    row.querySelector("input.choice-position").value = String(Math.max.apply(null, positions) + 1);
    moveButtons(container, row);
    row.querySelector("input.choice-label").focus();
    update();
  }

  function setUpChoices(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-card-choices]"), function (box) {
      if (box.dataset.ready || /__prefix__-choices-TOTAL/.test(
        (box.querySelector("input[name$='-TOTAL_FORMS']") || {}).name || "")) { return; }
      box.dataset.ready = "on";
      choiceRows(box).forEach(function (row) { moveButtons(box, row); });
      var add = box.querySelector("button.card-choice-add");
      if (add) {
        add.hidden = false;
        add.addEventListener("click", function () { addChoice(box); });
      }
    });
  }

  setUpChoices(group);
  /* A question card added with "Add another question". */
  document.addEventListener("formset:added", function (event) {
    if (event.detail && event.detail.formsetName === "questions") { setUpChoices(event.target); }
  });

  group.addEventListener("input", update);
  group.addEventListener("change", update);
  /* Dragging a card, adding or removing one. */
  new MutationObserver(update).observe(group, { childList: true, subtree: true });
  update();
}());
