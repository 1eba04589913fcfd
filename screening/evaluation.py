"""Evaluating and explaining parsed conditions.

``to_python`` turns a condition parsed by rule-engine into nested Python closures.  rule-engine's
own ``evaluate`` costs about 20 µs even for ``a or b`` (it resolves and wraps every value on
the way); a rule set of 63 rules and 30 derived values would spend 2 ms a submission there.
The closures do the same operations on the same values (numbers as ``Decimal`` literals,
several-choices answers as tuples) for the subset of the language conditions use, and fall back
to rule-engine's own evaluation of a node for anything else, so a construct never changes
meaning.  Property tests hold the two to the same results (``tests/screening``).

``explain`` says which symbols (question codes and derived values) made a true condition true:

- ``a or b``: the explanation of each side that is true;
- ``a and b``: both sides' explanations;
- ``'x' in code``: ``code``, narrowed to the choice ``x``;
- anything else (a comparison, ``not``, arithmetic, a comprehension): every symbol in it.

So ``chest_pain or 'chest' in pain_radiates_to`` with chest pain "yes" and no spreading is
explained by ``chest_pain`` alone, never by the "No, it does not spread" answer.
"""

import operator
from collections.abc import Callable, Mapping
from typing import Any

from rule_engine import ast as re_ast

Evaluator = Callable[[Mapping[str, Any]], Any]

_ARITHMETIC = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
}
_ORDERING = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}


def to_python(node) -> Evaluator:
    """A function of the values (symbol -> value) that evaluates ``node`` as rule-engine does.
    Kept on the node, so explaining a condition reuses what evaluating it built."""
    compiled = getattr(node, _KEPT, None)
    if compiled is None:
        compiled = _compile(node) or node.evaluate
        setattr(node, _KEPT, compiled)
    return compiled


_KEPT = "_screening_python"


def _compile(node) -> Evaluator | None:
    kind = type(node)
    if kind is re_ast.SymbolExpression and node.scope is None:
        name = node.name
        return lambda values: values[name]
    if kind in (re_ast.BooleanExpression, re_ast.FloatExpression, re_ast.StringExpression,
                re_ast.NullExpression):
        value = node.value
        return lambda values: value
    if kind is re_ast.ArrayExpression:
        members = [to_python(member) for member in node.value]
        return lambda values: tuple(member(values) for member in members)
    if kind is re_ast.LogicExpression:
        left, right = to_python(node.left), to_python(node.right)
        if node.type == "and":
            return lambda values: bool(left(values)) and bool(right(values))
        if node.type == "or":
            return lambda values: bool(left(values)) or bool(right(values))
        return None
    if kind is re_ast.UnaryExpression and node.type == "not":
        right = to_python(node.right)
        return lambda values: not right(values)
    if kind is re_ast.ComparisonExpression:
        left, right = to_python(node.left), to_python(node.right)
        if node.type == "eq":
            return lambda values: left(values) == right(values)
        if node.type == "ne":
            return lambda values: left(values) != right(values)
        return None
    if kind is re_ast.ArithmeticComparisonExpression and node.type in _ORDERING:
        # rule-engine compares null with anything as false; the condition checker refuses a
        # maybe-null number without a default, so null never reaches here from a valid rule.
        left, right, compare = to_python(node.left), to_python(node.right), _ORDERING[node.type]

        def ordering(values):
            a, b = left(values), right(values)
            if a is None or b is None:
                return node.evaluate(values)
            return compare(a, b)

        return ordering
    if kind is re_ast.ContainsExpression:
        container, member = to_python(node.container), to_python(node.member)
        return lambda values: member(values) in container(values)
    if kind in (re_ast.AddExpression, re_ast.SubtractExpression, re_ast.ArithmeticExpression) \
            and node.type in _ARITHMETIC:
        left, right, apply = to_python(node.left), to_python(node.right), _ARITHMETIC[node.type]
        return lambda values: apply(left(values), right(values))
    if kind is re_ast.TernaryExpression:
        condition = to_python(node.condition)
        case_true, case_false = to_python(node.case_true), to_python(node.case_false)
        return lambda values: case_true(values) if condition(values) else case_false(values)
    if kind is re_ast.CoalesceExpression:
        left, right = to_python(node.left), to_python(node.right)

        def coalesce(values):
            value = left(values)
            return right(values) if value is None else value

        return coalesce
    if kind is re_ast.GetAttributeExpression and node.name == "length":
        subject = to_python(node.object)
        return lambda values: len(subject(values))
    if kind is re_ast.ComprehensionExpression:
        return _comprehension(node)
    return None


def _comprehension(node) -> Evaluator:
    iterable, result = to_python(node.iterable), to_python(node.result)
    condition = to_python(node.condition) if node.condition is not None else None
    variable = node.variable

    def comprehend(values):
        scope = dict(values)
        out = []
        for item in iterable(values):
            scope[variable] = item
            if condition is None or condition(scope):
                out.append(result(scope))
        return tuple(out)

    return comprehend


# --- Explaining -----------------------------------------------------------------------------

# symbol -> the choices that matter (a multi-choice answer narrowed by ``'x' in code``), or
# None for the whole value.
Explanation = dict[str, frozenset | None]


def explain(node, values: Mapping[str, Any]) -> Explanation:
    """The symbols that made ``node`` true on ``values`` (see the module docstring)."""
    kind = type(node)
    if kind is re_ast.LogicExpression and node.type == "or":
        parts = [explain(side, values) for side in (node.left, node.right)
                 if to_python(side)(values)]
        return _merge(*parts) if parts else symbols(node)
    if kind is re_ast.LogicExpression and node.type == "and":
        return _merge(explain(node.left, values), explain(node.right, values))
    if (kind is re_ast.ContainsExpression
            and type(node.member) is re_ast.StringExpression
            and type(node.container) is re_ast.SymbolExpression
            and node.container.scope is None):
        return {node.container.name: frozenset([node.member.value])}
    return symbols(node)


def symbols(node, bound: frozenset = frozenset()) -> Explanation:
    """Every free symbol in ``node`` (comprehension variables excluded), whole."""
    if type(node) is re_ast.SymbolExpression:
        return {} if node.name in bound or node.scope is not None else {node.name: None}
    if type(node) is re_ast.ComprehensionExpression:
        inner = bound | {node.variable}
        parts = [symbols(node.iterable, bound), symbols(node.result, inner)]
        if node.condition is not None:
            parts.append(symbols(node.condition, inner))
        return _merge(*parts)
    return _merge(*(symbols(child, bound) for child in children(node)))


def _merge(*parts: Explanation) -> Explanation:
    merged: Explanation = {}
    for part in parts:
        for name, narrowed in part.items():
            if name in merged and (merged[name] is None or narrowed is None):
                merged[name] = None
            elif name in merged:
                merged[name] = merged[name] | narrowed
            else:
                merged[name] = narrowed
    return merged


_CHILD_ATTRIBUTES = (
    "expression", "left", "right", "container", "member", "object", "item", "start", "stop",
    "iterable", "result", "condition", "case_true", "case_false", "function",
)


def children(node):
    """The sub-expressions of a rule-engine node."""
    for name in _CHILD_ATTRIBUTES:
        child = getattr(node, name, None)
        if isinstance(child, re_ast.ExpressionBase):
            yield child
    for argument in getattr(node, "arguments", None) or ():
        if isinstance(argument, re_ast.ExpressionBase):
            yield argument
    if isinstance(node, re_ast.ArrayExpression | re_ast.SetExpression):
        yield from node.value
    elif isinstance(node, re_ast.MappingExpression):
        for key, value in node.value:
            yield key
            yield value
