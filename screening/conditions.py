"""The rule language: conditions over the question codes of one questionnaire version.

Conditions are written in the grammar of the ``rule-engine`` library (no ``eval``, no Python):
``chest_pain or 'chest' in pain_radiates_to``, ``pain_severity >= 7``, ``sex != 'male'``.
Each question code is a symbol whose type comes from its question's type (its class in
``intake.question_types`` says: ``condition_type``, and ``unanswered``):

=================  ==========================  =============================================
question type      type in a condition         when an optional question is unanswered
=================  ==========================  =============================================
boolean            true / false                false (not reported means not present)
multi_choice       list of choice values       an empty list (nothing chosen)
integer            number                      null: write ``(code ?? 0) >= 5``
single_choice      one choice value            null: ``code == 'x'`` is then simply false
text               text                        null
=================  ==========================  =============================================

Besides question codes, a condition may use the rule set's derived values
(``screening.models.DerivedValue``: yes/no values are true / false, scores are numbers) and the
built-in values ``age`` (a number) and ``free_text_match`` (true / false), passed to
``compile_condition`` as ``derived``.

Required questions are never null: screening refuses answers that lack one (see
``screening.engine``).  The type checker refuses, when a rule is saved or loaded, a condition
that compares a maybe-null number without saying what null means, so a rule never fails at
screening time on a missing optional answer.

``compile_condition`` refuses, with a message that names the problem:

- an unknown question code or derived value (with a did-you-mean suggestion);
- a choice value the question does not offer, wherever a choice question is compared with a
  text literal (``==``, ``!=``, ``in``, a list literal, a comprehension over the choices);
- a type mismatch (``pain_severity == 'high'``, ``chest_pain > 3``, a number outside the
  question's range);
- a syntax error;
- anything that would make screening depend on something other than the answers (the
  library's ``$``-builtins such as ``$now``), and text literals that are not compared with a
  question (so a mistyped choice value can never hide in an expression we cannot check).

Two parses, one check.  The condition is parsed once with every question's type, which is the
library's full type check, and once more without types for evaluation: rule-engine otherwise
re-checks each symbol's type on every evaluation, which is most of the cost of screening, and
``screening.engine.screen`` already checks every answer's type once per submission.  The
property tests show both parses give the same result for valid answers.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import rule_engine
from rule_engine import ast as re_ast
from rule_engine import errors as re_errors
from rule_engine.suggestions import suggest_symbol
from rule_engine.types import DataType

from intake.question_types import ConditionType
from intake.selectors import QuestionSpec, VersionSchema
from screening import evaluation

# Problem kinds, so callers and tests can tell them apart without parsing messages.
UNKNOWN_CODE = "unknown_code"
UNKNOWN_CHOICE = "unknown_choice"
TYPE_MISMATCH = "type_mismatch"
SYNTAX = "syntax"
NOT_ALLOWED = "not_allowed"

# The rule-engine type of each kind of answer (intake.question_types says which kind a
# question's answer is).
_DATA_TYPES = {
    ConditionType.YES_NO: DataType.BOOLEAN,
    ConditionType.NUMBER: DataType.FLOAT,
    ConditionType.TEXT: DataType.STRING,
    ConditionType.ONE_CHOICE: DataType.STRING,
    ConditionType.CHOICES: DataType.ARRAY(DataType.STRING),
}


def data_type_of(spec: QuestionSpec):
    """The question's type in a condition: null too when it may be left unanswered and its
    type gives no value for that (an unanswered yes/no question is false)."""
    kind = spec.kind
    base = _DATA_TYPES[kind.condition_type]
    if spec.always_answered or kind.unanswered is not None:
        return base
    return DataType.NULLABLE(base)


def _is(spec: QuestionSpec | None, condition_type: ConditionType) -> bool:
    return spec is not None and spec.kind.condition_type is condition_type


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str


class ConditionError(Exception):
    """A condition was refused.  ``problems`` name every reason found."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems

    @property
    def messages(self) -> list[str]:
        return [p.message for p in self.problems]

    @property
    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}


@dataclass(frozen=True, eq=False)
class CompiledCondition:
    text: str
    codes: tuple[str, ...]  # the question codes the condition refers to, sorted
    rule: rule_engine.Rule  # parsed without types, for evaluation
    typed_rule: rule_engine.Rule  # parsed with every question's type, the library's full check
    derived: tuple[str, ...] = ()  # the derived values it refers to, sorted
    evaluate: Callable[[Mapping[str, Any]], Any] | None = None  # see screening.evaluation

    def matches(self, values: Mapping[str, Any]) -> bool:
        """Evaluate over ``values``, which must hold every question code of the schema and
        every derived value with a value of the right type (``screening.engine`` sees to
        that).  Runs as plain Python closures (``screening.evaluation``): rule-engine's own
        evaluation costs about 20 µs a rule."""
        return bool(self.evaluate(values))

    def matches_untyped(self, values: Mapping[str, Any]) -> bool:
        """rule-engine's own evaluation of the untyped parse; ``matches`` must always agree."""
        return bool(self.rule.evaluate(values))

    def explain(self, values: Mapping[str, Any]) -> dict[str, frozenset | None]:
        """Which symbols made the condition true (see ``screening.evaluation.explain``)."""
        return evaluation.explain(self.rule.statement.expression, values)

    def matches_typed(self, values: Mapping[str, Any]) -> bool:
        """The same evaluation with the library re-checking every value's type on the way:
        slower, and it must always agree with ``matches`` (the property tests show it does)."""
        return bool(self.typed_rule.evaluate(values))


def compile_condition(
    text: str, schema: VersionSchema, derived: Mapping[str, Any] | None = None
) -> CompiledCondition:
    """Check ``text`` against ``schema`` and the derived values it may use (name -> rule-engine
    ``DataType``), and return it ready to evaluate.

    Raises ``ConditionError`` naming every problem found.
    """
    derived = derived or {}
    if not text or not text.strip():
        raise ConditionError([Problem(SYNTAX, "Write a condition, e.g. chest_pain.")])
    untyped = _parse(text, _untyped_context(schema, derived), schema)
    checker = _Checker(schema, derived)
    checker.check(untyped.statement.expression)
    if checker.problems:
        raise ConditionError(checker.problems)
    typed = _parse(text, rule_engine.Context(type_resolver=_typed_resolver(schema, derived)),
                   schema, codes=checker.codes)
    result_type = typed.statement.expression.result_type
    if result_type not in (DataType.BOOLEAN, DataType.UNDEFINED):
        raise ConditionError([Problem(TYPE_MISMATCH, (
            f"A condition must be true or false, but this one is {_type_name(result_type)}: "
            "compare it with something, e.g. pain_severity >= 7 or 'jaw' in pain_radiates_to."
        ))])
    return CompiledCondition(
        text=text, codes=tuple(sorted(checker.codes)), rule=untyped, typed_rule=typed,
        derived=tuple(sorted(checker.derived)),
        evaluate=evaluation.to_python(untyped.statement.expression),
    )


# --- Parsing --------------------------------------------------------------------------------


def _untyped_context(schema: VersionSchema, derived: Mapping[str, Any]) -> rule_engine.Context:
    def resolve_type(name):
        if name not in schema.questions and name not in derived:
            raise re_errors.SymbolResolutionError(
                name, suggestion=suggest_symbol(name, [*schema.questions, *derived])
            )
        return DataType.UNDEFINED

    return rule_engine.Context(type_resolver=resolve_type)


def _typed_resolver(schema: VersionSchema, derived: Mapping[str, Any]):
    return rule_engine.type_resolver_from_dict(
        {**{code: data_type_of(spec) for code, spec in schema.questions.items()}, **derived}
    )


def _parse(text: str, context, schema: VersionSchema, codes=()) -> rule_engine.Rule:
    try:
        return rule_engine.Rule(text, context=context)
    except re_errors.SymbolResolutionError as error:
        if error.symbol_scope is not None:
            message = (f"“${error.symbol_name}” is not allowed: a screening result must depend "
                       "only on the answers.")
            raise ConditionError([Problem(NOT_ALLOWED, message)]) from None
        message = (f"Unknown question code “{error.symbol_name}”: {schema.name} has no "
                   "question with that code, and the rule set defines no value by that name "
                   "(a derived value may only use the ones listed before it).")
        if error.suggestion:
            message += f" Did you mean “{error.suggestion}”?"
        raise ConditionError([Problem(UNKNOWN_CODE, message)]) from None
    except re_errors.RuleSyntaxError as error:
        raise ConditionError([Problem(SYNTAX, _syntax_message(error))]) from None
    except re_errors.SyntaxError as error:
        raise ConditionError([Problem(SYNTAX, f"Syntax error: {error.message}.")]) from None
    except re_errors.EngineError as error:
        problem = Problem(TYPE_MISMATCH, _type_message(error, schema, codes))
        raise ConditionError([problem]) from None
    except (TypeError, ValueError, ArithmeticError, RecursionError) as error:
        # The library's own checks raise EngineError; anything else is a condition it could not
        # read at all.  Refuse it rather than fail the admin page.
        raise ConditionError([Problem(SYNTAX, (
            f"The condition could not be read ({type(error).__name__}); check its syntax."
        ))]) from None


def _type_message(error, schema: VersionSchema, codes) -> str:
    used = ", ".join(
        f"{code} ({schema.questions[code].kind.label}"
        f"{'' if schema.questions[code].always_answered else ', may be unanswered'})"
        for code in sorted(codes) if code in schema.questions
    )
    message = f"Type mismatch: {error.message}."
    if used:
        message += f" The condition uses {used}."
    return message


def _syntax_message(error) -> str:
    token = error.token
    if token is None:
        return ("Syntax error: the condition ends too early (is something missing after the "
                "last word or operator, or a bracket not closed?).")
    return (f"Syntax error at “{token.value}” (character {token.lexpos + 1}): check the words "
            "and operators around it.")


# --- Checking what the library's type checker lets through ----------------------------------


class _Checker:
    """Walks a parsed condition: collects the question codes it uses, checks every text literal
    compared with a choice question against that question's choices, and names type mismatches
    between a question and a literal."""

    def __init__(self, schema: VersionSchema, derived: Mapping[str, Any]):
        self.schema = schema
        self.derived_types = derived
        self.codes: set[str] = set()
        self.derived: set[str] = set()
        self.problems: list[Problem] = []
        self._bound: list[dict[str, QuestionSpec | None]] = []  # comprehension variables
        self._strings: list[re_ast.StringExpression] = []
        self._accounted: set[int] = set()

    def check(self, root) -> None:
        self._visit(root)
        for literal in self._strings:
            if id(literal) not in self._accounted:
                self._problem(NOT_ALLOWED, (
                    f"'{literal.value}' is not compared with a question: text values may only "
                    "be compared with a choice question (code == 'value', 'value' in code) or a "
                    "text question, so that every choice value can be checked."
                ))
        if not self.codes and not self.derived and not self.problems:
            self._problem(NOT_ALLOWED, "The condition refers to no question, so it would fire "
                                       "for every submission or none.")

    def _problem(self, kind: str, message: str) -> None:
        if all(p.message != message for p in self.problems):
            self.problems.append(Problem(kind, message))

    # What a node is, as far as the questions go.

    def _variable(self, node) -> tuple[bool, QuestionSpec | None]:
        if isinstance(node, re_ast.SymbolExpression) and node.scope is None:
            for scope in reversed(self._bound):
                if node.name in scope:
                    return True, scope[node.name]
        return False, None

    def _question(self, node) -> QuestionSpec | None:
        """The question a node *is* (a bare question code), or None."""
        if not isinstance(node, re_ast.SymbolExpression) or node.scope is not None:
            return None
        if self._variable(node)[0]:
            return None
        return self.schema.questions.get(node.name)

    def _one_choice_of(self, node) -> QuestionSpec | None:
        """The choice question whose single value the node is: a one-choice question (or one
        with a default, ``code ?? 'value'``), or a comprehension variable over a several-choices
        question."""
        node = _without_default(node)
        is_variable, source = self._variable(node)
        if is_variable:
            return source
        question = self._question(node)
        return question if _is(question, ConditionType.ONE_CHOICE) else None

    def _static_type(self, node):
        is_variable, source = self._variable(node)
        if is_variable:
            return DataType.STRING if source is not None else DataType.UNDEFINED
        question = self._question(node)
        if question is not None:
            return data_type_of(question)
        return getattr(node, "result_type", DataType.UNDEFINED)

    def _describe(self, node) -> str:
        question = self._question(node)
        if question is not None:
            return f"“{question.code}” ({question.kind.label} question)"
        if isinstance(node, re_ast.LiteralExpressionBase) and not isinstance(
            node, re_ast.ArrayExpression | re_ast.SetExpression | re_ast.MappingExpression
        ):
            return f"{_literal(node)} ({_type_name(node.result_type)})"
        return _type_name(self._static_type(node))

    # Checks.

    def _account(self, *nodes) -> None:
        """Mark text literals as dealt with (checked, or already reported)."""
        for node in nodes:
            if isinstance(node, re_ast.StringExpression):
                self._accounted.add(id(node))

    def _check_choice(self, question: QuestionSpec, literal) -> None:
        if not isinstance(literal, re_ast.StringExpression):
            return
        self._accounted.add(id(literal))
        if literal.value not in question.choices:
            self._problem(UNKNOWN_CHOICE, (
                f"“{literal.value}” is not a choice of “{question.code}”; it offers "
                f"{', '.join(question.choices)}."
            ))

    def _check_choices_in(self, question: QuestionSpec, collection) -> None:
        if isinstance(collection, re_ast.ArrayExpression | re_ast.SetExpression):
            for member in collection.value:
                self._check_choice(question, member)

    def _account_text(self, node, other) -> None:
        question = self._question(_without_default(node))
        if _is(question, ConditionType.TEXT) and isinstance(other, re_ast.StringExpression):
            self._accounted.add(id(other))

    def _check_equality(self, node) -> None:
        for side, other in ((node.left, node.right), (node.right, node.left)):
            one = self._one_choice_of(side)
            if one is not None:
                self._check_choice(one, other)
            question = self._question(side)
            if _is(question, ConditionType.CHOICES):
                self._check_choices_in(question, other)
            self._account_text(side, other)
        left, right = self._static_type(node.left), self._static_type(node.right)
        if not DataType.is_compatible(left, right):
            self._account(node.left, node.right)
            if left == DataType.NULL or right == DataType.NULL:
                subject = node.left if right == DataType.NULL else node.right
                self._problem(TYPE_MISMATCH, (
                    f"Type mismatch: {self._describe(subject)} is never null (a required "
                    "question is always answered; an unanswered optional yes/no question is "
                    "false, and a several-choices one an empty list)."
                ))
            else:
                self._problem(TYPE_MISMATCH, (
                    f"Type mismatch: {self._describe(node.left)} cannot be compared with "
                    f"{self._describe(node.right)}."
                ))

    def _check_ordering(self, node) -> None:
        for side, other in ((node.left, node.right), (node.right, node.left)):
            question = self._question(side)
            if question is None:
                continue
            if isinstance(other, re_ast.StringExpression):
                self._account(other)
                self._problem(TYPE_MISMATCH, (
                    f"Type mismatch: “{question.code}” ({question.kind.label} question) cannot be "
                    f"compared with {_literal(other)} (text)."
                ))
                continue
            if not _is(question, ConditionType.NUMBER):
                self._problem(TYPE_MISMATCH, (
                    f"Type mismatch: “{question.code}” is a {question.kind.label} question; only "
                    "whole-number questions can be compared with <, <=, > or >=."
                ))
                continue
            if not question.always_answered:
                self._problem(TYPE_MISMATCH, (
                    f"“{question.code}” is optional, so it may be unanswered (null): say what "
                    f"that means, e.g. ({question.code} ?? 0)."
                ))
            if isinstance(other, re_ast.FloatExpression):
                self._check_range(question, other.value)

    def _check_range(self, question: QuestionSpec, value) -> None:
        low, high = question.min_value, question.max_value
        if (low is not None and value < low) or (high is not None and value > high):
            self._problem(TYPE_MISMATCH, (
                f"{_number(value)} is outside the answers “{question.code}” allows "
                f"({low}..{high})."
            ))

    def _check_contains(self, node) -> None:
        container, member = node.container, node.member
        question = self._question(container)
        if question is not None:
            if _is(question, ConditionType.CHOICES):
                self._check_choice(question, member)
            elif _is(question, ConditionType.ONE_CHOICE) and isinstance(
                member, re_ast.StringExpression
            ):
                self._accounted.add(id(member))
                self._problem(TYPE_MISMATCH, (
                    f"“{question.code}” is a one-choice question: compare it with ==, e.g. "
                    f"{question.code} == '{member.value}'."
                ))
            elif _is(question, ConditionType.TEXT):
                self._account_text(container, member)
            elif _is(question, ConditionType.YES_NO) or _is(question, ConditionType.NUMBER):
                self._problem(TYPE_MISMATCH, (
                    f"Type mismatch: “{question.code}” is a {question.kind.label} question; “in” "
                    "needs a several-choices question or a list."
                ))
        one = self._one_choice_of(member)
        if one is not None:
            self._check_choices_in(one, container)

    def _check_fuzzy(self, node) -> None:
        for side, other in ((node.left, node.right), (node.right, node.left)):
            question = self._question(_without_default(side)) or self._one_choice_of(side)
            if question is not None and question.kind.has_choices:
                self._problem(NOT_ALLOWED, (
                    f"“{question.code}” is a choice question: compare it with == or in, not a "
                    "pattern, so its values can be checked."
                ))
            self._account_text(side, other)

    def _check_coalesce(self, node) -> None:
        one = self._one_choice_of(node.left)
        if one is not None:
            self._check_choice(one, node.right)
        self._account_text(node.left, node.right)

    # The walk.

    def _visit(self, node) -> None:
        if isinstance(node, re_ast.SymbolExpression):
            if node.scope is not None:
                self._problem(NOT_ALLOWED, f"“${node.name}” is not allowed: a screening result "
                                           "must depend only on the answers.")
            elif not self._variable(node)[0] and node.name in self.schema.questions:
                self.codes.add(node.name)
            elif not self._variable(node)[0] and node.name in self.derived_types:
                self.derived.add(node.name)
            return
        if isinstance(node, re_ast.StringExpression):
            self._strings.append(node)
            return
        if isinstance(node, re_ast.ComprehensionExpression):
            self._visit_comprehension(node)
            return
        if isinstance(node, re_ast.FuzzyComparisonExpression):
            self._check_fuzzy(node)
        elif isinstance(node, re_ast.ArithmeticComparisonExpression):
            self._check_ordering(node)
        elif isinstance(node, re_ast.ComparisonExpression):
            self._check_equality(node)
        elif isinstance(node, re_ast.ContainsExpression):
            self._check_contains(node)
        elif isinstance(node, re_ast.CoalesceExpression):
            self._check_coalesce(node)
        for child in evaluation.children(node):
            self._visit(child)

    def _visit_comprehension(self, node) -> None:
        self._visit(node.iterable)
        if node.variable in self.schema.questions:
            self._problem(NOT_ALLOWED, (
                f"“{node.variable}” is a question code; name the comprehension variable "
                "something else."
            ))
        question = self._question(node.iterable)
        source = question if _is(question, ConditionType.CHOICES) else None
        self._bound.append({node.variable: source})
        try:
            if node.condition is not None:
                self._visit(node.condition)
            self._visit(node.result)
        finally:
            self._bound.pop()


def _without_default(node):
    """``code ?? default`` stands for ``code`` when checking which question a value is from."""
    while isinstance(node, re_ast.CoalesceExpression):
        node = node.left
    return node


def _literal(node) -> str:
    if isinstance(node, re_ast.StringExpression):
        return f"'{node.value}'"
    if isinstance(node, re_ast.FloatExpression):
        return _number(node.value)
    if isinstance(node, re_ast.BooleanExpression):
        return "true" if node.value else "false"
    if isinstance(node, re_ast.NullExpression):
        return "null"
    return str(node.value)


def _number(value) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _type_name(data_type) -> str:
    if DataType.is_type(data_type, DataType.NULLABLE):
        return f"{_type_name(data_type.inner_type)} or null"
    if DataType.is_type(data_type, DataType.ARRAY):
        return "a list"
    names = {
        DataType.BOOLEAN: "true/false",
        DataType.FLOAT: "a number",
        DataType.STRING: "text",
        DataType.NULL: "null",
        DataType.UNDEFINED: "a value of unknown type",
    }
    for known, name in names.items():
        if data_type == known:
            return name
    return data_type.name.lower()
