/* The rule builder (screening admin): a rule's condition made by choosing a question (or a
   value such as age), how to compare it and the answer, in groups that hold when "all of" or
   "any of" their conditions hold.  It only writes the expression into the condition field,
   which is then read-only; the server checks it exactly as if it had been typed
   (screening.services.check_rule).  Without JavaScript the expression is typed as before. */
(function () {
  "use strict";

  var data = document.getElementById("rule-vocabulary");
  if (!data) { return; }
  var vocabulary = JSON.parse(data.textContent);
  if (!vocabulary.length) { return; }
  var byName = {};
  vocabulary.forEach(function (item) { byName[item.name] = item; });

  var OPERATORS = {
    yes_no: [["yes", "is yes"], ["no", "is no"]],
    number: [[">=", "is at least"], [">", "is more than"], ["<=", "is at most"],
             ["<", "is less than"], ["==", "is"], ["!=", "is not"]],
    one_choice: [["==", "is"], ["!=", "is not"]],
    choices: [["in", "includes"], ["not in", "does not include"]]
  };
  var counter = 0;

  function make(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function labelled(text, control) {
    var label = make("label", {}, text);
    label.appendChild(control);
    return label;
  }

  function select(options, className) {
    var control = make("select", className ? { "class": className } : {});
    options.forEach(function (option) {
      control.appendChild(make("option", { value: option[0] }, option[1]));
    });
    return control;
  }

  function button(text, onClick) {
    var control = make("button", { type: "button", "class": "button" }, text);
    control.addEventListener("click", onClick);
    return control;
  }

  function subjectSelect() {
    var control = make("select", { "class": "builder-question" });
    control.appendChild(make("option", { value: "" }, "Choose…"));
    var questions = make("optgroup", { label: "Questions" });
    var values = make("optgroup", { label: "Age and derived values" });
    var question = true;
    vocabulary.forEach(function (item) {
      if (item.name === "age") { question = false; }
      (question ? questions : values).appendChild(make("option", { value: item.name }, item.title));
    });
    control.appendChild(questions);
    control.appendChild(values);
    return control;
  }

  /* One condition row: question, operator, value. */
  function conditionRow(builder, group) {
    var row = make("div", { "class": "builder-row" });
    var subject = subjectSelect();
    var operatorSlot = make("span");
    var valueSlot = make("span");
    row.appendChild(labelled("Question or value", subject));
    row.appendChild(operatorSlot);
    row.appendChild(valueSlot);
    row.appendChild(button("Remove", function () {
      group.rows.splice(group.rows.indexOf(state), 1);
      row.remove();
      builder.write();
    }));
    var state = { element: row, subject: subject, operator: null, value: null };

    subject.addEventListener("change", function () {
      var item = byName[subject.value];
      operatorSlot.textContent = "";
      valueSlot.textContent = "";
      state.operator = state.value = null;
      if (item) {
        state.operator = select(OPERATORS[item.kind]);
        operatorSlot.appendChild(labelled("Compare", state.operator));
        if (item.kind === "number") {
          state.value = make("input", { type: "number", step: "1" });
          valueSlot.appendChild(labelled("Number", state.value));
        } else if (item.kind === "one_choice" || item.kind === "choices") {
          state.value = select(item.choices);
          valueSlot.appendChild(labelled("Answer", state.value));
        }
      }
      builder.write();
    });
    row.addEventListener("change", function (event) {
      if (event.target !== subject) { builder.write(); }
    });
    row.addEventListener("input", function () { builder.write(); });
    return state;
  }

  function expressionOf(state) {
    var item = byName[state.subject.value];
    if (!item || !state.operator) { return null; }
    var operator = state.operator.value;
    if (item.kind === "yes_no") {
      return operator === "yes" ? item.name : "not " + item.name;
    }
    var value = state.value ? state.value.value : "";
    if (value === "") { return null; }
    if (item.kind === "number") {
      var number = parseInt(value, 10);
      if (isNaN(number)) { return null; }
      var comparison = item.name + " " + operator + " " + number;
      /* An optional question left unanswered is null: the rule fires only on an answer. */
      return item.nullable ? "(" + item.name + " != null and " + comparison + ")" : comparison;
    }
    if (item.kind === "one_choice") { return item.name + " " + operator + " '" + value + "'"; }
    return "'" + value + "' " + operator + " " + item.name;
  }

  function joined(parts, match) {
    return parts.join(match === "any" ? " or " : " and ");
  }

  function wrapped(text, many) {
    return many && / (and|or) /.test(text) ? "(" + text + ")" : text;
  }

  function Builder(textarea) {
    var self = this;
    counter += 1;
    this.textarea = textarea;
    this.groups = [];
    this.element = make("div", { "class": "rule-builder", role: "group",
                                 "aria-label": "Rule builder" });
    this.topMatch = select([["all", "all of these groups"], ["any", "any of these groups"]]);
    this.top = labelled("The rule fires when ", this.topMatch);
    this.top.hidden = true;
    this.topMatch.addEventListener("change", function () { self.write(); });
    this.element.appendChild(this.top);
    this.groupsElement = make("div");
    this.element.appendChild(this.groupsElement);
    var actions = make("div", { "class": "builder-actions" });
    actions.appendChild(button("Add a group", function () { self.addGroup(); }));
    actions.appendChild(button("Type the expression instead", function () {
      self.element.remove();
      textarea.readOnly = false;
      textarea.focus();
    }));
    this.element.appendChild(actions);
    this.element.appendChild(make("p", { "class": "rule-builder-note" },
      "The expression below is written from these choices and checked when you save."));
    this.addGroup();
    textarea.readOnly = true;
  }

  Builder.prototype.addGroup = function () {
    var self = this;
    var group = { rows: [] };
    var fieldset = make("fieldset");
    fieldset.appendChild(make("legend", {}, "Conditions " + (this.groups.length + 1)));
    group.match = select([["all", "all of these hold"], ["any", "any of these holds"]]);
    group.match.addEventListener("change", function () { self.write(); });
    fieldset.appendChild(labelled("Fires when ", group.match));
    var rows = make("div");
    fieldset.appendChild(rows);
    var actions = make("div", { "class": "builder-actions" });
    actions.appendChild(button("Add a condition", function () {
      var state = conditionRow(self, group);
      group.rows.push(state);
      rows.appendChild(state.element);
      state.subject.focus();
    }));
    actions.appendChild(button("Remove these conditions", function () {
      self.groups.splice(self.groups.indexOf(group), 1);
      fieldset.remove();
      self.write();
    }));
    fieldset.appendChild(actions);
    group.element = fieldset;
    var first = conditionRow(self, group);
    group.rows.push(first);
    rows.appendChild(first.element);
    this.groups.push(group);
    this.groupsElement.appendChild(fieldset);
    this.write();
  };

  Builder.prototype.write = function () {
    this.top.hidden = this.groups.length < 2;
    var many = this.groups.length > 1;
    var parts = this.groups.map(function (group) {
      var conditions = group.rows.map(expressionOf).filter(Boolean);
      var text = joined(conditions.map(function (c) {
        return wrapped(c, conditions.length > 1);
      }), group.match.value);
      return text ? wrapped(text, many) : null;
    }).filter(Boolean);
    var expression = joined(parts, this.topMatch.value);
    if (this.textarea.value !== expression) {
      this.textarea.value = expression;
      this.textarea.dispatchEvent(new Event("input", { bubbles: true }));
    }
  };

  /* A condition already written as an expression is kept as it is until someone chooses to
     build it again; an empty one is built at once. */
  function attach(textarea) {
    if (textarea.dataset.builder) { return; }
    textarea.dataset.builder = "on";
    var place = textarea.closest(".form-row") || textarea.parentNode;
    var start = function () {
      var builder = new Builder(textarea);
      place.parentNode.insertBefore(builder.element, place);
    };
    if (!textarea.value.trim()) {
      start();
      return;
    }
    var offer = make("p", { "class": "rule-builder-note" });
    var rebuild = button("Build this condition again from questions", function () {
      offer.remove();
      start();
    });
    offer.appendChild(rebuild);
    place.parentNode.insertBefore(offer, place);
  }

  function attachAll(root) {
    Array.prototype.forEach.call(root.querySelectorAll("textarea.rule-expression"), function (t) {
      if (t.name.indexOf("__prefix__") === -1) { attach(t); }
    });
  }

  attachAll(document);
  /* A rule added on the rule set's page ("Add another Rule"). */
  document.addEventListener("formset:added", function (event) { attachAll(event.target); });
}());
