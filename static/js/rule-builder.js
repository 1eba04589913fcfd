/* The rule builder (screening admin): a rule's condition made by choosing a question (or a
   value such as age), how to compare it and the answer, in groups that hold when "all of" or
   "any of" their conditions hold.  It writes the expression into the condition field, which
   is then read-only, with the grammar the server sends (screening.rule_builder.GRAMMAR, the
   one statement of how a built condition is written); the server checks it exactly as if it
   had been typed (screening.services.check_rule).
   A condition already written is shown in the builder when the server could read it back into
   groups and conditions (the field's data-built); otherwise it stays as written, read-only,
   with the reason (data-unreadable) and a way to edit it by hand or start again.  Without
   JavaScript the expression is typed as before. */
(function () {
  "use strict";

  var data = document.getElementById("rule-vocabulary");
  var grammarData = document.getElementById("rule-builder-grammar");
  if (!data || !grammarData) { return; }
  var vocabulary = JSON.parse(data.textContent);
  var GRAMMAR = JSON.parse(grammarData.textContent);
  if (!vocabulary.length) { return; }
  var byName = {};
  vocabulary.forEach(function (item) { byName[item.name] = item; });

  var OPERATORS = GRAMMAR.operators;
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

  /* One condition row: question, operator, value; ``condition`` (from the server's reading)
     fills it in. */
  function conditionRow(builder, group, condition) {
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

    function showControls() {
      var item = byName[subject.value];
      operatorSlot.textContent = "";
      valueSlot.textContent = "";
      state.operator = state.value = null;
      if (!item) { return; }
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

    if (condition && byName[condition.name]) {
      subject.value = condition.name;
      showControls();
      state.operator.value = condition.operator;
      if (state.value) { state.value.value = condition.value; }
    }
    subject.addEventListener("change", function () {
      showControls();
      builder.write();
    });
    row.addEventListener("change", function (event) {
      if (event.target !== subject) { builder.write(); }
    });
    row.addEventListener("input", function () { builder.write(); });
    return state;
  }

  function fill(template, values) {
    return template.replace(/\{(name|operator|value)\}/g, function (_, key) {
      return values[key];
    });
  }

  function expressionOf(state) {
    var item = byName[state.subject.value];
    if (!item || !state.operator) { return null; }
    var operator = state.operator.value;
    var templates = GRAMMAR.conditions;
    if (item.kind === "yes_no") { return fill(templates.yes_no[operator], { name: item.name }); }
    var value = state.value ? state.value.value : "";
    if (value === "") { return null; }
    if (item.kind === "number") {
      var number = parseInt(value, 10);
      if (isNaN(number)) { return null; }
      return fill(templates[item.nullable ? "nullable_number" : "number"],
                  { name: item.name, operator: operator, value: String(number) });
    }
    return fill(templates[item.kind], { name: item.name, operator: operator, value: value });
  }

  function joined(parts, match) {
    return parts.join(GRAMMAR.join[match]);
  }

  /* ``built`` is the server's reading of the condition already written (or null): the builder
     shows it without rewriting the expression until something is changed. */
  function Builder(textarea, built) {
    var self = this;
    counter += 1;
    this.textarea = textarea;
    this.groups = [];
    this.loading = true;
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
    if (built) {
      this.topMatch.value = built.match;
      built.groups.forEach(function (group) { self.addGroup(group); });
    } else {
      this.addGroup();
    }
    this.top.hidden = this.groups.length < 2;
    this.loading = false;
    textarea.readOnly = true;
  }

  Builder.prototype.addGroup = function (built) {
    var self = this;
    var group = { rows: [] };
    var fieldset = make("fieldset");
    fieldset.appendChild(make("legend", {}, "Conditions " + (this.groups.length + 1)));
    group.match = select([["all", "all of these hold"], ["any", "any of these holds"]]);
    if (built) { group.match.value = built.match; }
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
    (built ? built.conditions : [null]).forEach(function (condition) {
      var state = conditionRow(self, group, condition);
      group.rows.push(state);
      rows.appendChild(state.element);
    });
    this.groups.push(group);
    this.groupsElement.appendChild(fieldset);
    this.write();
  };

  /* The expression, written as screening.rule_builder.write_condition writes it. */
  Builder.prototype.write = function () {
    if (this.loading) { return; }
    this.top.hidden = this.groups.length < 2;
    var many = this.groups.length > 1;
    var parts = this.groups.map(function (group) {
      var conditions = group.rows.map(expressionOf).filter(Boolean);
      if (!conditions.length) { return null; }
      var text = joined(conditions, group.match.value);
      return many && conditions.length > 1 ? GRAMMAR.bracket.replace("{text}", text) : text;
    }).filter(Boolean);
    var expression = joined(parts, this.topMatch.value);
    if (this.textarea.value !== expression) {
      this.textarea.value = expression;
      this.textarea.dispatchEvent(new Event("input", { bubbles: true }));
    }
  };

  /* An empty condition is built at once; one the server read back is shown in the builder;
     any other stays as written, read-only, with the reason, until someone chooses to edit it
     by hand or to build a new one in its place. */
  function attach(textarea) {
    if (textarea.dataset.builder) { return; }
    textarea.dataset.builder = "on";
    var place = textarea.closest(".form-row") || textarea.parentNode;
    var start = function (built) {
      var builder = new Builder(textarea, built);
      place.parentNode.insertBefore(builder.element, place);
    };
    if (!textarea.value.trim()) {
      start(null);
      return;
    }
    if (textarea.dataset.built) {
      start(JSON.parse(textarea.dataset.built));
      return;
    }
    textarea.readOnly = true;
    var note = make("div", { "class": "rule-builder-note rule-builder-unreadable" });
    note.appendChild(make("p", {}, "The builder cannot show this condition" +
      (textarea.dataset.unreadable ? ": " + textarea.dataset.unreadable : "") +
      ". It is kept as written below and checked when you save."));
    var actions = make("div", { "class": "builder-actions" });
    actions.appendChild(button("Edit the expression by hand", function () {
      note.remove();
      textarea.readOnly = false;
      textarea.focus();
    }));
    actions.appendChild(button("Build a new condition in its place", function () {
      note.remove();
      start(null);
    }));
    note.appendChild(actions);
    place.parentNode.insertBefore(note, place);
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
