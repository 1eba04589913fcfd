"""The kinds of question a questionnaire can ask: one class each, holding everything that
depends on the kind, and the registry the rest of the code asks (``type_of``).

Nothing else switches on a question's type.  Validation (``intake.services.answers``), the
questionnaire checks (``intake.services.questionnaires``), the patient form (``intake.forms``
and ``templates/intake/_questions.html``), screening (``screening.conditions``,
``screening.engine``) and FHIR (``interop.fhir``) each ask the question's type what they need:
its validation, what it has (options, choices, a range, a length limit, several answers), how a
condition sees its answer, its form control and its FHIR names.

Adding a question type: its value in ``Question.Type`` (a migration that only changes the
field's choices), one subclass of ``QuestionType`` here decorated with ``@register``, and the
template of its control under ``templates/intake/controls/`` (or one of those there).

This module is the bottom of the questionnaire layer: it imports the standard library, Django
and ``intake.models`` only, so that screening and FHIR can import it.  The condition language's
type is a ``ConditionType`` (``screening.conditions`` gives each its rule-engine type), and
FHIR details are element names and plain conversions.
"""

import enum
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from django.http import QueryDict
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from intake.models import Question
from intake.quoting import quoted


class ConditionType(enum.Enum):
    """What an answer is in a screening condition."""

    YES_NO = "true or false"
    NUMBER = "a number"
    TEXT = "text"
    ONE_CHOICE = "one of the question's choice values"
    CHOICES = "a list of the question's choice values"


class Option(NamedTuple):
    """One option of a question answered by picking: its value, what the patient reads, and
    whether it cannot be picked together with another (“none of these”)."""

    value: str
    label: str
    is_exclusive: bool = False


class QuestionType:
    """One kind of question.  A subclass sets the class attributes and overrides what differs;
    the methods here are those of a question answered with one value, typed in a form field.

    ``question`` arguments are the question's ``intake.selectors.QuestionSpec`` where an answer
    is judged (``clean``, ``fits``), and a ``Question`` (choices loaded) where the questionnaire
    itself is shown or checked.
    """

    code: str  # its Question.Type value
    label: str  # how messages name it: “a {label} question”

    # What a question of this type has besides its text.  The questionnaire checks, the form
    # and FHIR read these, so a type made of the same parts needs nothing anywhere else.
    has_options = False  # answered by picking from options (Yes/No, or its choices): a fieldset
    has_choices = False  # its options are its own choices (the Choice rows)
    has_range = False  # a smallest and a largest answer (min_value, max_value)
    has_max_length = False  # a most-characters limit (max_length), which it must have
    repeats = False  # answered with a list
    # The patient's own words: refused control and hidden characters
    # (intake.services.answers), searched for the rule set's free-text terms (free_text_match),
    # removed when a submission is anonymised.
    free_text = False

    # In a screening condition: what the answer is, and what an optional question left
    # unanswered is (None: null, which a condition must handle, e.g. ``(code ?? 0) >= 5``).
    condition_type: ConditionType
    unanswered: Any = None

    # The control the patient answers with, inside the question's label or fieldset
    # (templates/intake/_questions.html includes it).
    template: str

    # FHIR: the Questionnaire item's type, and the value[x] element that carries an answer
    # (with its JSON type).
    fhir_item_type: str
    fhir_value: str
    fhir_value_type: type

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.code!r}>"

    # --- An answer ------------------------------------------------------------------------

    def clean(self, question, value: Any) -> tuple[str | None, Any]:
        """(problem, cleaned answer) for one non-empty answer as a JSON client sends it.  The
        problem says how to fix it; a cleaned answer of None means "no answer" (text that is
        only white space)."""
        raise NotImplementedError

    def fits(self, question, value: Any) -> bool:
        """Whether ``value`` is a valid answer: screening checks again what was validated on
        submitting, since a wrong type would make a condition silently mean something else."""
        raise NotImplementedError

    def fits_source(self, question, value: str, constant: Callable[[Any], str]) -> str | None:
        """``fits`` as a Python expression over the variable named ``value``, for the function
        screening writes to read a questionnaire's answers (``screening.engine._reader``),
        naming any object it needs by ``constant(obj)``; None (the default): that function
        calls ``fits``.  Only ever a faster way to the same answer."""
        return None

    def condition_value(self, answer: Any) -> Any:
        """The answer as a condition sees it (several answers as a tuple)."""
        return tuple(answer) if self.repeats else answer

    # --- The form -------------------------------------------------------------------------

    def from_form(self, data: QueryDict, code: str) -> Any:
        """The answer an HTML form posted under ``code``, typed as a JSON client sends it, or
        None when there is none.  Nothing is judged: a value that cannot be converted is passed
        on as it was, and ``clean`` names the problem."""
        raw = data.get(code, "").strip()
        return self.from_text(raw) if raw else None

    def from_text(self, raw: str) -> Any:
        """A form field's text as an answer (the text itself, or converted)."""
        return raw

    def form_value(self, data: QueryDict, code: str) -> str | list[str]:
        """What the patient entered, as posted, to show again when the form has errors."""
        return data.get(code, "")

    def options(self, question: Question) -> tuple[Option, ...]:
        """The options to pick from, in order (none for a question typed into a field)."""
        return ()

    def patient_problem(self, question: Question, posted: Any, problem: str) -> str:
        """What the patient reads when their answer to ``question`` was refused: ``posted`` is
        what the form sent (empty: no answer), ``problem`` what validation said.  Specific to
        the question, in GOV.UK's words, and never an internal value (a code or a choice's
        value); validation's own message where it already is one."""
        if _is_blank(posted):
            return self.missing_message(question)
        return problem

    def missing_message(self, question: Question) -> str:
        return _("Enter your answer to “%(question)s”") % {"question": _asked(question.text)}

    # --- Questions shown on a condition about a question of this type ----------------------

    def matches_condition(self, answer: Any, condition_answer: str) -> bool:
        """Whether ``answer`` (clean) is the answer a show-condition waits for, as written in
        ``Question.condition_answer``."""
        return answer == condition_answer

    def condition_answer_problem(self, question: Question, condition_answer: str) -> str | None:
        """Why ``condition_answer`` cannot be an answer to ``question`` that shows another
        question; None when it can.  Only a type with options can be waited for."""
        return None

    def condition_answer_in_words(self, condition_answer: str) -> str:
        """The awaited answer in a message to an API client."""
        return condition_answer

    def condition_hint(self, question: Question, condition_answer: str) -> str:
        """The patient's sentence saying when a question shown on ``condition_answer`` to
        ``question`` applies."""
        label = next((o.label for o in self.options(question) if o.value == condition_answer),
                     condition_answer)
        return f"Answer this only if you chose “{label}” for “{question.text}”."

    # --- FHIR -----------------------------------------------------------------------------

    def to_fhir(self, answer: Any) -> list:
        """The answer as the values of FHIR answers, one answer each (choice values, for a
        type with choices, which ``interop.fhir.mapping`` writes as Codings)."""
        return list(answer) if self.repeats else [answer]

    def from_fhir(self, values: list) -> Any:
        """The answer that FHIR answers' values (choice codes, for a type with choices) give."""
        return list(values) if self.repeats else values[0]

    def fhir_enable_when(self, condition_answer: str) -> dict:
        """A show-condition's answer as an enableWhen answer[x] (not for types with choices,
        whose answer is a Coding ``interop.fhir.mapping`` writes)."""
        return {"answerString": condition_answer}


REGISTRY: dict[str, QuestionType] = {}


def register(cls: type[QuestionType]) -> type[QuestionType]:
    """Class decorator: make ``cls`` the type of questions whose ``type`` is ``cls.code``."""
    REGISTRY[cls.code] = cls()
    return cls


class _Untyped(QuestionType):
    """A question whose type is not one of these, as on an admin form whose type field has an
    error: it has none of the parts a type gives, so only the checks that do not depend on its
    type apply."""

    code = ""
    label = "untyped"


UNTYPED = _Untyped()


def type_of(question_or_code: Any, default: QuestionType | None = None) -> QuestionType:
    """The type of a question (a ``Question``, a ``QuestionSpec``, or a ``Question.Type``
    value).  Raises ``LookupError`` for a type nobody registered, unless given a ``default``
    (``UNTYPED``, where a question being edited may have none yet)."""
    code = question_or_code if isinstance(question_or_code, str) else question_or_code.type
    try:
        return REGISTRY[code]
    except KeyError:
        if default is not None:
            return default
        raise LookupError(
            f"No question type {code!r} is registered: add a QuestionType subclass with "
            "code = that value, decorated with @register, in intake/question_types.py."
        ) from None


def codes_of_types(**capabilities: bool) -> list[str]:
    """The ``Question.Type`` values of the registered types with these attributes, e.g.
    ``codes_of_types(free_text=True)``, for a database filter."""
    return [code for code, kind in REGISTRY.items()
            if all(getattr(kind, name) == wanted for name, wanted in capabilities.items())]


def _has_both_limits(question) -> bool:
    return question.min_value is not None and question.max_value is not None


def _is_blank(posted: Any) -> bool:
    return posted is None or (isinstance(posted, str) and not posted.strip()) or posted == []


# A yes/no question as the statement "Select yes if ..." completes (GOV.UK's pattern, e.g.
# "Do you have chest pain?" -> "Select yes if you have chest pain"); the question stands as it
# is when it does not start like one of these.
_STATEMENTS = (
    (re.compile(r"^do you (.+)$", re.I), "you {}"),
    (re.compile(r"^are you (.+)$", re.I), "you are {}"),
    (re.compile(r"^have you (.+)$", re.I), "you have {}"),
    (re.compile(r"^did you (.+)$", re.I), "you {}"),
    (re.compile(r"^were you (.+)$", re.I), "you were {}"),
    (re.compile(r"^is there (.+)$", re.I), "there is {}"),
)
# A question that asks a second question ("are you ..., does it hurt ...?") does not make one
# statement: it gets "Select yes or no".
_SECOND_QUESTION = re.compile(r",\s*(or\s+)?(do|does|did|is|are|was|were|has|have)\s", re.I)


def _as_statement(text: str) -> str:
    question = _unquestioned(text)
    if _SECOND_QUESTION.search(question):
        return ""
    for pattern, template in _STATEMENTS:
        match = pattern.match(question)
        if match:
            return template.format(match.group(1))
    return ""


def _unquestioned(text: str) -> str:
    """The question's first sentence, without its question mark."""
    return _asked(text).rstrip("?. :")


def _asked(text: str) -> str:
    """The question's first sentence, as asked (e.g. without "Tick all that apply.")."""
    return re.split(r"(?<=[?.])\s", text.strip(), maxsplit=1)[0]


# The types, in the order FHIR's answer value[x] elements are listed in messages.

YES_NO = (Option("true", "Yes"), Option("false", "No"))


@register
class YesNo(QuestionType):
    code = Question.Type.BOOLEAN
    label = "yes/no"
    has_options = True
    # Not reported means not present: an optional yes/no question left unanswered is false.
    condition_type = ConditionType.YES_NO
    unanswered = False
    template = "intake/controls/options.html"
    fhir_item_type = "boolean"
    fhir_value = "valueBoolean"
    fhir_value_type = bool

    def clean(self, question, value):
        if type(value) is not bool:
            return "Answer yes or no: send true or false.", None
        return None, value

    def fits(self, question, value):
        return type(value) is bool

    def fits_source(self, question, value, constant):
        return f"type({value}) is bool"

    def from_text(self, raw):
        return {"true": True, "false": False}.get(raw, raw)

    def options(self, question):
        return YES_NO

    def missing_message(self, question):
        # "Select yes if ..." is made from an English question; other languages get the
        # question as it is.
        statement = _as_statement(question.text) if get_language() == "en-gb" else ""
        if statement:
            return f"Select yes if {statement}"
        return _("Select yes or no for “%(question)s”") % {"question": _asked(question.text)}

    def patient_problem(self, question, posted, problem):
        return self.missing_message(question)  # anything but yes or no is no answer

    def matches_condition(self, answer, condition_answer):
        return answer is (condition_answer == "true")

    def condition_answer_problem(self, question, condition_answer):
        if condition_answer not in ("true", "false"):
            return f"“{question.code}” is a yes/no question: write true or false."
        return None

    def condition_answer_in_words(self, condition_answer):
        return "yes" if condition_answer == "true" else "no"

    def condition_hint(self, question, condition_answer):
        answer = "Yes" if condition_answer == "true" else "No"
        return f"Answer this only if you answered {answer} to “{question.text}”."

    def fhir_enable_when(self, condition_answer):
        return {"answerBoolean": condition_answer == "true"}


# What a form field's text must be to be converted to a whole number; anything else is passed on
# as text, for clean to refuse.
_FORM_INTEGER = re.compile(r"^[+-]?\d{1,9}$")


@register
class WholeNumber(QuestionType):
    code = Question.Type.INTEGER
    label = "whole-number"
    has_range = True
    condition_type = ConditionType.NUMBER
    template = "intake/controls/number.html"
    fhir_item_type = "integer"
    fhir_value = "valueInteger"
    fhir_value_type = int

    def clean(self, question, value):
        # bool is a subclass of int in Python; true is not a number here.
        if type(value) is not int:
            return _range_message(question, "Enter a whole number"), None
        if not self._in_range(question, value):
            return _range_message(question, "Must be"), None
        return None, value

    def fits(self, question, value):
        return type(value) is int and self._in_range(question, value)

    def fits_source(self, question, value, constant):
        low, high = question.min_value, question.max_value
        return " and ".join([f"type({value}) is int",
                             *([] if low is None else [f"{value} >= {constant(low)}"]),
                             *([] if high is None else [f"{value} <= {constant(high)}"])])

    @staticmethod
    def _in_range(question, value: int) -> bool:
        low, high = question.min_value, question.max_value
        return (low is None or value >= low) and (high is None or value <= high)

    def from_text(self, raw):
        return int(raw) if _FORM_INTEGER.match(raw) else raw

    def missing_message(self, question):
        return _("Enter a whole number from %(low)s to %(high)s for “%(question)s”") % {
            "low": question.min_value, "high": question.max_value,
            "question": _asked(question.text)} if _has_both_limits(question) else (
            _("Enter a whole number for “%(question)s”") % {"question": _asked(question.text)})

    def patient_problem(self, question, posted, problem):
        # Blank, not a number or out of range: the same words say what to enter (with the range
        # when there is one), as GOV.UK's number pattern does.
        return self.missing_message(question)

    def fhir_enable_when(self, condition_answer):
        if re.fullmatch(r"-?[0-9]+", condition_answer):
            return {"answerInteger": int(condition_answer)}
        return super().fhir_enable_when(condition_answer)


def _range_message(question, prefix: str) -> str:
    low, high = question.min_value, question.max_value
    if low is not None and high is not None:
        return f"{prefix} between {low} and {high}."
    if low is not None:
        return f"{prefix} {low} or more."
    if high is not None:
        return f"{prefix} {high} or less."
    return f"{prefix}."


@register
class Text(QuestionType):
    code = Question.Type.TEXT
    label = "text"
    has_max_length = True
    free_text = True
    condition_type = ConditionType.TEXT
    template = "intake/controls/text.html"
    fhir_item_type = "text"
    fhir_value = "valueString"
    fhir_value_type = str

    def clean(self, question, value):
        # Which characters the text may hold is judged first, by intake.services.answers, for
        # every type whose answers are free text.
        if not isinstance(value, str):
            return "Send text.", None
        text = value.strip()
        if not text:
            return None, None  # only white space: no answer
        if question.max_length is not None and len(text) > question.max_length:
            return (f"Keep this to {question.max_length} characters or fewer "
                    f"(it has {len(text)})."), None
        return None, text

    def fits(self, question, value):
        return type(value) is str

    def fits_source(self, question, value, constant):
        return f"type({value}) is str"

    def from_form(self, data, code):
        # Posted as typed: leading and trailing spaces are the answer's to judge (clean).
        raw = data.get(code, "")
        return raw if raw != "" else None


class _Choice(QuestionType):
    """A question answered from its own choices (the Choice rows), whose values are the
    answers; labels are what the patient reads."""

    has_options = True
    has_choices = True
    fhir_item_type = "choice"
    fhir_value = "valueCoding"
    fhir_value_type = dict
    template = "intake/controls/options.html"

    def options(self, question):
        return tuple(Option(c.value, c.label, c.is_exclusive) for c in question.choices.all())

    def missing_message(self, question):
        return _("Select an answer for “%(question)s”") % {"question": _asked(question.text)}

    def patient_problem(self, question, posted, problem):
        if _is_blank(posted):
            return self.missing_message(question)
        return _("Select one of the answers shown")

    def condition_answer_problem(self, question, condition_answer):
        values = [choice.value for choice in question.choices.all()]
        if condition_answer not in values:
            return (f"“{condition_answer}” is not a choice of “{question.code}”; it offers "
                    f"{', '.join(values)}.")
        return None


@register
class OneChoice(_Choice):
    code = Question.Type.SINGLE_CHOICE
    label = "one-choice"
    condition_type = ConditionType.ONE_CHOICE

    def clean(self, question, value):
        offered = ", ".join(question.choices)
        if not isinstance(value, str):
            return f"Choose one of: {offered}.", None
        if value not in question.choices:
            return f"{quoted(value)} is not one of the choices: {offered}.", None
        return None, value

    def fits(self, question, value):
        return type(value) is str and value in question.choices

    def fits_source(self, question, value, constant):
        return f"type({value}) is str and {value} in {constant(frozenset(question.choices))}"


@register
class SeveralChoices(_Choice):
    code = Question.Type.MULTI_CHOICE
    label = "several-choices"
    repeats = True
    # Nothing chosen: an empty list, never null.
    condition_type = ConditionType.CHOICES
    unanswered = ()

    def clean(self, question, value):
        offered = ", ".join(question.choices)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"Send a list of choices from: {offered}.", None
        unknown = [v for v in value if v not in question.choices]
        if unknown:
            listed = ", ".join(quoted(v) for v in unknown[:5])
            return f"Not among the choices ({offered}): {listed}.", None
        if len(set(value)) != len(value):
            return "Each choice may be given only once.", None
        exclusive = [v for v in value if v in question.exclusive]
        if exclusive and len(value) > 1:
            return f"“{exclusive[0]}” cannot be chosen together with other answers.", None
        # Store in the questionnaire's order, so equal answers are stored equally.
        return None, [c for c in question.choices if c in value]

    def fits(self, question, value):
        return isinstance(value, list | tuple) and all(
            type(v) is str and v in question.choices for v in value
        )

    def fits_source(self, question, value, constant):
        return (f"isinstance({value}, {constant(list | tuple)}) and all([type(x) is str and x "
                f"in {constant(frozenset(question.choices))} for x in {value}])")

    def from_form(self, data, code):
        return data.getlist(code) or None

    def form_value(self, data, code):
        return data.getlist(code)

    def missing_message(self, question):
        asked = _asked(question.text)
        alone = [o.label for o in self.options(question) if o.is_exclusive]
        if alone:
            return _("Select all that apply for “%(question)s”, or select “%(none)s”") % {
                "question": asked, "none": alone[0]}
        return _("Select all that apply for “%(question)s”") % {"question": asked}

    def patient_problem(self, question, posted, problem):
        if _is_blank(posted):
            return self.missing_message(question)
        options = self.options(question)
        chosen = [o for o in options if o.value in posted]
        alone = [o for o in chosen if o.is_exclusive]
        if alone and len(chosen) > 1:
            return _("Select “%(none)s” on its own, or untick it and keep your other "
                     "answers") % {"none": alone[0].label}
        return _("Select from the answers shown")

    def matches_condition(self, answer, condition_answer):
        return condition_answer in answer
