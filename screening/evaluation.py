"""Evaluating and explaining parsed conditions.

``to_python`` turns a condition parsed by rule-engine into nested Python closures.  rule-engine's
own ``evaluate`` costs about 20 µs even for ``a or b`` (it resolves and wraps every value on
the way); a rule set of 63 rules and 30 derived values would spend 2 ms a submission there.
The closures do the same operations on the same values (numbers as ``Decimal`` literals,
several-choices answers as tuples) for the subset of the language conditions use, and fall back
to rule-engine's own evaluation of a node for anything else, so a construct never changes
meaning.  Property tests hold the two to the same results (``tests/screening``).

``PythonSource`` writes the same operations as Python source instead, so that
``screening.engine`` can make a whole rule set's derived values and rules one function (a call
per node less: most of what the closures cost); what it cannot write runs as the closure.

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
from types import MappingProxyType
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


# --- As Python source, for a whole rule set at once --------------------------------------------


class Unsupported(Exception):
    """``python_source`` cannot write this node: evaluate it with ``to_python`` instead."""


class PythonSource:
    """Writes a condition as one Python expression over the values ``v``, for
    ``screening.engine`` to put every derived value and rule of a rule set into one function:
    the same operations on the same values as ``to_python``'s closures, in the same order, but
    without a Python call for every node (which is most of what the closures cost).

    Nothing of a condition's text becomes code: the source is this class's own operators and
    parentheses, symbols and text literals written with ``repr`` (always a Python string
    literal), and every other literal (numbers are ``Decimal``) or node rule-engine evaluates
    itself bound to a generated name in ``constants``.
    """

    def __init__(self):
        self.constants: dict[str, Any] = {}
        self._names = 0

    def constant(self, value: Any) -> str:
        name = f"_c{len(self.constants)}"
        self.constants[name] = value
        return name

    def _temporary(self) -> str:
        self._names += 1
        return f"_t{self._names}"

    def truth(self, node) -> str:
        """An expression true exactly when the node's value is (the closures' ``bool(...)``),
        raising exactly when they raise."""
        return self._source(node, {}, truth=True)

    def value(self, node) -> str:
        """An expression of exactly the node's value."""
        return self._source(node, {}, truth=False)

    def _source(self, node, bound: dict[str, str], *, truth: bool) -> str:
        kind = type(node)
        if kind is re_ast.SymbolExpression and node.scope is None:
            if node.name in bound:
                return bound[node.name]
            return f"v[{node.name!r}]"
        if kind in (re_ast.BooleanExpression, re_ast.NullExpression):
            return repr(node.value)
        if kind is re_ast.StringExpression:
            return repr(node.value)
        if kind is re_ast.FloatExpression:
            return self.constant(node.value)
        if kind is re_ast.ArrayExpression:
            members = [self._source(member, bound, truth=False) for member in node.value]
            return "(" + "".join(f"{member}, " for member in members) + ")"
        if kind is re_ast.LogicExpression and node.type in ("and", "or"):
            joined = (f"({self._source(node.left, bound, truth=True)} {node.type} "
                      f"{self._source(node.right, bound, truth=True)})")
            return joined if truth else f"bool{joined}"
        if kind is re_ast.UnaryExpression and node.type == "not":
            return f"(not {self._source(node.right, bound, truth=True)})"
        if kind is re_ast.ComparisonExpression and node.type in ("eq", "ne"):
            operator_ = "==" if node.type == "eq" else "!="
            return (f"({self._source(node.left, bound, truth=False)} {operator_} "
                    f"{self._source(node.right, bound, truth=False)})")
        if kind is re_ast.ArithmeticComparisonExpression and node.type in _ORDERING:
            return self._ordering(node, bound)
        if kind is re_ast.ContainsExpression:
            return (f"({self._source(node.member, bound, truth=False)} in "
                    f"{self._source(node.container, bound, truth=False)})")
        if kind in (re_ast.AddExpression, re_ast.SubtractExpression,
                    re_ast.ArithmeticExpression) and node.type in _ARITHMETIC:
            symbol = {"add": "+", "sub": "-", "mul": "*"}[node.type]
            return (f"({self._source(node.left, bound, truth=False)} {symbol} "
                    f"{self._source(node.right, bound, truth=False)})")
        if kind is re_ast.TernaryExpression:
            return (f"({self._source(node.case_true, bound, truth=truth)} if "
                    f"{self._source(node.condition, bound, truth=True)} else "
                    f"{self._source(node.case_false, bound, truth=truth)})")
        if kind is re_ast.CoalesceExpression:
            held = self._temporary()
            return (f"({self._source(node.right, bound, truth=truth)} if "
                    f"({held} := {self._source(node.left, bound, truth=False)}) is None "
                    f"else {held})")
        if kind is re_ast.GetAttributeExpression and node.name == "length":
            return f"len({self._source(node.object, bound, truth=False)})"
        if kind is re_ast.ComprehensionExpression:
            return self._comprehension(node, bound)
        if bound:
            # rule-engine would need the comprehension's variable among the values.
            raise Unsupported(type(node).__name__)
        return f"{self.constant(node.evaluate)}(v)"

    def _ordering(self, node, bound: dict[str, str]) -> str:
        # As the closure: both sides evaluated, then rule-engine's own evaluation of the node
        # when either is null (which the condition checker keeps valid rules from meeting).
        if bound:
            raise Unsupported("an ordering inside a comprehension")
        operator_ = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}[node.type]
        fallback = self.constant(node.evaluate)
        left = self._source(node.left, bound, truth=False)
        right = self._source(node.right, bound, truth=False)
        if type(node.right) is re_ast.FloatExpression:
            held = self._temporary()
            return (f"({fallback}(v) if ({held} := {left}) is None "
                    f"else {held} {operator_} {right})")
        first, second = self._temporary(), self._temporary()
        return (f"({fallback}(v) if (({first} := {left}) is None) | "
                f"(({second} := {right}) is None) else {first} {operator_} {second})")

    def _comprehension(self, node, bound: dict[str, str]) -> str:
        item = self._temporary()
        inner = {**bound, node.variable: item}
        iterable = self._source(node.iterable, bound, truth=False)
        result = self._source(node.result, inner, truth=False)
        if node.condition is None:
            return f"tuple([{result} for {item} in {iterable}])"
        condition = self._source(node.condition, inner, truth=True)
        return f"tuple([{result} for {item} in {iterable} if {condition}])"


# --- Explaining -----------------------------------------------------------------------------

# symbol -> the choices that matter (a multi-choice answer narrowed by ``'x' in code``), or
# None for the whole value.
Explanation = dict[str, frozenset | None]


def explain(node, values: Mapping[str, Any]) -> Explanation:
    """The symbols that made ``node`` true on ``values`` (see the module docstring); the
    explanation may be read-only."""
    explanation = explanation_of(node)
    return explanation(values) if callable(explanation) else explanation


def explanation_of(node) -> Explanation | Callable[[Mapping[str, Any]], Explanation]:
    """What explains ``node`` (for ``explain``): the explanation itself when it is the same
    whatever the values (no ``or`` to choose a side of), else a function of the values.
    Worked out once and kept on the node, like ``to_python``'s closures."""
    kept = getattr(node, _EXPLANATION, None)
    if kept is None:
        kept = _explain_node(node)
        setattr(node, _EXPLANATION, kept)
    return kept


_EXPLANATION = "_screening_explanation"


def _explain_node(node):
    kind = type(node)
    if kind is re_ast.LogicExpression and node.type == "or":
        # Each side explained when true; every symbol when neither is.  A chain of ``or``
        # (``a or b or c``) is explained by its true members in order, which is what explaining
        # it side by side gives: an inner ``or`` is only explained when true, so never by its
        # own fallback.  Every member is evaluated, as side by side, by one function.
        members = list(_or_members(node))
        whole = symbols(node)
        explanations = [explanation_of(member) for member in members]
        truths = truths_of(members)

        def explain_or(values):
            parts = [explanation(values) if callable(explanation) else explanation
                     for is_true, explanation in zip(truths(values), explanations, strict=True)
                     if is_true]
            return _merge(*parts) if parts else whole

        return explain_or
    if kind is re_ast.LogicExpression and node.type == "and":
        left, right = explanation_of(node.left), explanation_of(node.right)
        if not callable(left) and not callable(right):
            return MappingProxyType(_merge(left, right))

        def explain_and(values):
            return _merge(left(values) if callable(left) else left,
                          right(values) if callable(right) else right)

        return explain_and
    if (kind is re_ast.ContainsExpression
            and type(node.member) is re_ast.StringExpression
            and type(node.container) is re_ast.SymbolExpression
            and node.container.scope is None):
        return MappingProxyType({node.container.name: frozenset([node.member.value])})
    return symbols(node)


def _or_members(node):
    if type(node) is re_ast.LogicExpression and node.type == "or":
        yield from _or_members(node.left)
        yield from _or_members(node.right)
    else:
        yield node


def truths_of(nodes) -> Callable[[Mapping[str, Any]], tuple]:
    """A function of the values giving each node's truth (as ``to_python``'s closures would,
    through ``PythonSource``), in order; the closures when it cannot be written."""
    source = PythonSource()
    try:
        written = "".join(f"{source.truth(node)}, " for node in nodes)
        code = compile(f"lambda v: ({written})", "<explain>", "eval")
    except (Unsupported, SyntaxError):
        closures = [to_python(node) for node in nodes]
        return lambda values: tuple(closure(values) for closure in closures)
    # The source holds only what PythonSource wrote: no text of a condition.
    return eval(code, dict(source.constants))  # noqa: S307


def symbols(node, bound: frozenset = frozenset()) -> Explanation:
    """Every free symbol in ``node`` (comprehension variables excluded), whole.  Kept on the
    node (read-only), since a node's symbols never change."""
    if bound:
        return _symbols(node, bound)
    kept = getattr(node, _SYMBOLS, None)
    if kept is None:
        kept = MappingProxyType(_symbols(node, bound))
        setattr(node, _SYMBOLS, kept)
    return kept


_SYMBOLS = "_screening_symbols"


def _symbols(node, bound: frozenset) -> Explanation:
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
