"""The rule builder's grammar: the conditions the admin's builder writes, and reading an
expression back into them.

The builder (``static/js/rule-builder.js``) makes a rule's condition from *groups* of
*conditions*: each condition is a question or value of ``services.rule_vocabulary`` (its
``name``), an operator and a value; a group holds when all (or any) of its conditions hold, and
the rule fires when all (or any) of its groups hold.  ``GRAMMAR`` is the one statement of how
that is written as an expression: the builder writes with it (it is sent to the page), and
``write_condition`` here writes with it too, so that ``read_condition`` can prove what it reads.

``read_condition`` parses an expression with rule-engine, the parser screening itself uses (so
precedence and brackets are read exactly as screening reads them), turns the tree into groups
and conditions, writes those back with ``GRAMMAR``, and accepts the reading only if the
expression written means the same tree (``and``/``or`` chains compared without their
grouping, which does not change what they mean).  An expression outside the grammar (``not``
before brackets, conditions three deep, a list comprehension, a text answer, ``??``) comes back
with the reason, and the page shows it read-only with that note.  Reading is only for showing:
whatever the builder writes is checked by ``services.check_rule`` like a typed expression.
"""

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import rule_engine
from rule_engine import ast as re_ast
from rule_engine import errors as re_errors

# How each kind of condition is written ({name}, {operator}, {value}); the operators each kind
# offers, as [operator, words]; and how the conditions of a group, and the groups, are joined.
GRAMMAR: dict[str, Any] = {
    "conditions": {
        "yes_no": {"yes": "{name}", "no": "not {name}"},
        "number": "{name} {operator} {value}",
        # An optional number question left unanswered is null: the rule fires only on an answer.
        "nullable_number": "({name} != null and {name} {operator} {value})",
        "one_choice": "{name} {operator} '{value}'",
        "choices": "'{value}' {operator} {name}",
    },
    "operators": {
        "yes_no": [["yes", "is yes"], ["no", "is no"]],
        "number": [
            [">=", "is at least"],
            [">", "is more than"],
            ["<=", "is at most"],
            ["<", "is less than"],
            ["==", "is"],
            ["!=", "is not"],
        ],
        "one_choice": [["==", "is"], ["!=", "is not"]],
        "choices": [["in", "includes"], ["not in", "does not include"]],
    },
    "join": {"all": " and ", "any": " or "},
    # Among several groups, a group of several conditions is bracketed.  A condition never is:
    # only the nullable number's has a join, and its own brackets.
    "bracket": "({text})",
}

_MATCH_OF = {"and": "all", "or": "any"}
_ORDERING = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_EQUALITY = {"eq": "==", "ne": "!="}


class Unreadable(Exception):
    """The expression is outside the builder's grammar; the message says why, for the page."""


# --- Writing ---------------------------------------------------------------------------------


def write_condition(built: Mapping[str, Any], vocabulary: Iterable[Mapping[str, Any]]) -> str:
    """The expression of ``built`` (``{"match", "groups": [{"match", "conditions": [{"name",
    "operator", "value"}]}]}``), written as the builder writes it."""
    by_name = {item["name"]: item for item in vocabulary}
    groups = built["groups"]
    parts = []
    for group in groups:
        conditions = [
            _write_one(condition, by_name[condition["name"]]) for condition in group["conditions"]
        ]
        text = _joined(conditions, group["match"])
        if len(groups) > 1 and len(conditions) > 1:
            text = GRAMMAR["bracket"].format(text=text)
        parts.append(text)
    return _joined(parts, built["match"])


def _write_one(condition: Mapping[str, Any], item: Mapping[str, Any]) -> str:
    kind = item["kind"]
    templates = GRAMMAR["conditions"]
    if kind == "yes_no":
        return templates["yes_no"][condition["operator"]].format(name=item["name"])
    if kind == "number" and item["nullable"]:
        kind = "nullable_number"
    return templates[kind].format(
        name=item["name"], operator=condition["operator"], value=condition["value"]
    )


def _joined(parts: list[str], match: str) -> str:
    return GRAMMAR["join"][match].join(parts)


# --- Reading ---------------------------------------------------------------------------------


def read_condition(text: str, vocabulary: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"built": ...}`` (as ``write_condition`` takes it) when the builder could have written
    ``text``, else ``{"unreadable": reason}``."""
    vocabulary = list(vocabulary)
    try:
        tree = _parse(text)
        built = _Reader({item["name"]: item for item in vocabulary}).read(tree)
        written = write_condition(built, vocabulary)
        if _shape(_parse(written)) != _shape(tree):
            raise Unreadable("the builder would write it with another meaning")
    except Unreadable as reason:
        return {"unreadable": str(reason)}
    return {"built": built}


def _parse(text: str):
    try:
        return rule_engine.Rule(text).statement.expression
    except (re_errors.EngineError, TypeError, ValueError, ArithmeticError, RecursionError):
        raise Unreadable("it is not a complete condition (the check on saving says why)") from None


class _Reader:
    def __init__(self, by_name: Mapping[str, Mapping[str, Any]]):
        self.by_name = by_name

    def read(self, node) -> dict[str, Any]:
        if not self._is_join(node):
            return {
                "match": "all",
                "groups": [{"match": "all", "conditions": [self.condition(node)]}],
            }
        groups = []
        for part in self._chain(node, node.type):
            if self._is_join(part):
                inner = self._chain(part, part.type)
                if any(self._is_join(deeper) for deeper in inner):
                    raise Unreadable("its conditions are grouped more than two deep")
                groups.append(
                    {
                        "match": _MATCH_OF[part.type],
                        "conditions": [self.condition(each) for each in inner],
                    }
                )
            else:
                groups.append({"match": "all", "conditions": [self.condition(part)]})
        return {"match": _MATCH_OF[node.type], "groups": groups}

    def _is_join(self, node) -> bool:
        """An ``and``/``or`` of conditions (not the builder's own bracket for a nullable
        number, which is one condition)."""
        return isinstance(node, re_ast.LogicExpression) and self._nullable_number(node) is None

    def _chain(self, node, join: str) -> list:
        if self._is_join(node) and node.type == join:
            return [*self._chain(node.left, join), *self._chain(node.right, join)]
        return [node]

    def condition(self, node) -> dict[str, Any]:
        if isinstance(node, re_ast.LogicExpression):
            found = self._nullable_number(node)
            if found is None:  # pragma: no cover (read() only passes conditions here)
                raise Unreadable("it joins conditions where one is expected")
            return found
        if isinstance(node, re_ast.SymbolExpression):
            self._item(node, "yes_no")
            return {"name": node.name, "operator": "yes", "value": ""}
        if isinstance(node, re_ast.UnaryExpression) and node.type == "not":
            inner = node.right
            if isinstance(inner, re_ast.SymbolExpression):
                self._item(inner, "yes_no")
                return {"name": inner.name, "operator": "no", "value": ""}
            if isinstance(inner, re_ast.ContainsExpression):
                return self._contains(inner, "not in")
            raise Unreadable("it has “not” before a group of conditions")
        if isinstance(node, re_ast.ContainsExpression):
            return self._contains(node, "in")
        if isinstance(node, re_ast.ComparisonExpression) and node.type in _EQUALITY:
            item = self._item(node.left)
            if item["kind"] == "one_choice":
                return {
                    "name": item["name"],
                    "operator": _EQUALITY[node.type],
                    "value": self._choice(node.right, item),
                }
            return self._number(node, _EQUALITY[node.type], nullable=False)
        if isinstance(node, re_ast.ArithmeticComparisonExpression) and node.type in _ORDERING:
            return self._number(node, _ORDERING[node.type], nullable=False)
        raise Unreadable(f"it uses {_described(node)}, which the builder does not offer")

    def _nullable_number(self, node) -> dict[str, Any] | None:
        """``(code != null and code >= 5)``, the builder's condition on an optional number."""
        if not (
            node.type == "and"
            and isinstance(node.left, re_ast.ComparisonExpression)
            and node.left.type == "ne"
            and isinstance(node.left.right, re_ast.NullExpression)
            and isinstance(node.left.left, re_ast.SymbolExpression)
        ):
            return None
        comparison = node.right
        operators = {**_ORDERING, **_EQUALITY}
        if not (
            isinstance(
                comparison, re_ast.ComparisonExpression | re_ast.ArithmeticComparisonExpression
            )
            and comparison.type in operators
            and isinstance(comparison.left, re_ast.SymbolExpression)
            and comparison.left.name == node.left.left.name
        ):
            return None
        try:
            return self._number(comparison, operators[comparison.type], nullable=True)
        except Unreadable:
            return None

    def _number(self, node, operator: str, *, nullable: bool) -> dict[str, Any]:
        item = self._item(node.left, "number")
        if item["nullable"] != nullable:
            raise Unreadable(
                f"“{item['name']}” is compared without the builder's own check "
                "for an unanswered question"
                if item["nullable"]
                else f"“{item['name']}” is always answered, yet checked for null"
            )
        if not isinstance(node.right, re_ast.FloatExpression):
            raise Unreadable(f"“{item['name']}” is compared with something other than a number")
        value = Decimal(node.right.value)
        if value != value.to_integral_value():
            raise Unreadable("it compares with a number that is not whole")
        return {"name": item["name"], "operator": operator, "value": str(int(value))}

    def _contains(self, node, operator: str) -> dict[str, Any]:
        item = self._item(node.container, "choices")
        return {
            "name": item["name"],
            "operator": operator,
            "value": self._choice(node.member, item),
        }

    def _choice(self, node, item) -> str:
        if not isinstance(node, re_ast.StringExpression):
            raise Unreadable(
                f"“{item['name']}” is compared with something other than one of its choices"
            )
        if node.value not in [value for value, _ in item["choices"]]:
            raise Unreadable(f"“{node.value}” is not a choice of “{item['name']}”")
        return node.value

    def _item(self, node, kind: str | None = None) -> Mapping[str, Any]:
        if not isinstance(node, re_ast.SymbolExpression) or node.scope is not None:
            raise Unreadable(f"it uses {_described(node)}, which the builder does not offer")
        item = self.by_name.get(node.name)
        if item is None:
            raise Unreadable(
                f"“{node.name}” is not among the questions and values the "
                "builder offers (a text answer, or not in this version)"
            )
        if kind is not None and item["kind"] != kind:
            raise Unreadable(f"“{node.name}” is used in a way the builder does not write")
        return item


def _described(node) -> str:
    names = {
        re_ast.ComprehensionExpression: "a list comprehension ([... for ... in ...])",
        re_ast.CoalesceExpression: "a default for an unanswered question (??)",
        re_ast.FuzzyComparisonExpression: "a pattern (=~)",
        re_ast.ArithmeticExpression: "arithmetic",
        re_ast.GetAttributeExpression: "an attribute (such as .length)",
        re_ast.TernaryExpression: "a choice between values (? :)",
    }
    for kind, name in names.items():
        if isinstance(node, kind):
            return name
    return f"an expression of a kind it does not write ({type(node).__name__})"


def _shape(node) -> tuple:
    """The tree's meaning as nested tuples, ``and``/``or`` chains flattened."""
    if isinstance(node, re_ast.LogicExpression):

        def chain(part):
            if isinstance(part, re_ast.LogicExpression) and part.type == node.type:
                return [*chain(part.left), *chain(part.right)]
            return [_shape(part)]

        return (node.type, *chain(node))
    if isinstance(node, re_ast.UnaryExpression):
        return (node.type, _shape(node.right))
    if isinstance(node, re_ast.ContainsExpression):
        return ("in", _shape(node.member), _shape(node.container))
    if isinstance(node, re_ast.ComparisonExpression | re_ast.ArithmeticComparisonExpression):
        return (node.type, _shape(node.left), _shape(node.right))
    if isinstance(node, re_ast.SymbolExpression):
        return ("symbol", node.name, node.scope)
    if isinstance(node, re_ast.NullExpression):
        return ("null",)
    if isinstance(node, re_ast.LiteralExpressionBase) and not isinstance(
        node, re_ast.ArrayExpression | re_ast.SetExpression | re_ast.MappingExpression
    ):
        return (type(node).__name__, node.value)
    raise Unreadable(f"it uses {_described(node)}, which the builder does not offer")
