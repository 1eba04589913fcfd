"""Template helpers for templates/intake/_questions.html, the questions of one questionnaire
version as form controls (the patient form and the admin's preview both include it).

Django templates cannot look a dictionary up by a variable key, and the sentence saying when a
conditional question applies needs the question it depends on; both are done here, in Python,
so the partial reads top to bottom without nested searching loops.
"""

from django import template

from intake.question_types import Option, QuestionType, type_of

register = template.Library()


@register.filter
def lookup(mapping, key):
    """``mapping[key]``, or None when the mapping is empty, missing or has no such key:
    ``{{ values|lookup:question.code }}``."""
    if not mapping:
        return None
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.simple_tag
def questions_by_code(version) -> dict:
    """``{code: question}`` for every question of ``version``, read from its prefetched sections
    and questions (no query when they are prefetched, as the partial requires)."""
    return {
        question.code: question
        for section in version.sections.all()
        for question in section.questions.all()
    }


@register.simple_tag(takes_context=True)
def condition_hint(context, question, by_code: dict) -> str:
    """When to answer a conditional question, in the patient's words, e.g. "Answer this only if
    you answered Yes to “Have you ever been told you have cancer?”."; "" for a question that is
    always asked.  Escaped by the template like any other value.  In the patient's language
    when the page has a translation (``texts`` in the context)."""
    if not question.condition_question:
        return ""
    translated = _texts(context).get(f"condition:{question.code}")
    if translated:
        return translated
    wanted = question.condition_answer
    target = by_code.get(question.condition_question)
    if target is None:
        # A draft can name a question that is not (yet) in the version; the admin's preview
        # still shows something an admin recognises.
        return (f"Answer this only if you answered “{wanted}” to question "
                f"{question.condition_question}.")
    return type_of(target).condition_hint(target, wanted)


@register.simple_tag
def described_by(question, has_errors) -> str:
    """The ids that describe a question's control or fieldset, in reading order (when it is
    asked, its hint, its error), for ``aria-describedby``; "" when there are none."""
    code = question.code
    ids = []
    if question.condition_question:
        ids.append(f"condition-{code}")
    if question.help_text:
        ids.append(f"hint-{code}")
    if has_errors:
        ids.append(f"error-{code}")
    return " ".join(ids)


@register.filter
def question_type(question) -> QuestionType:
    """The question's type (``intake.question_types``): whether it is a fieldset of options
    (``has_options``), whether it takes several answers (``repeats``), and the template of its
    control (``template``)."""
    return type_of(question)


@register.filter
def options(question) -> tuple[Option, ...]:
    """The options of a question answered by picking, in order: Yes and No, or its choices."""
    return type_of(question).options(question)


@register.filter
def is_chosen(answer, value: str) -> bool:
    """Whether the option ``value`` is part of the answer to show again: a string (a yes/no
    answer as "true"/"false"), a list of strings, or a typed answer (True, False)."""
    if isinstance(answer, bool):
        answer = "true" if answer else "false"
    if isinstance(answer, list | tuple):
        return value in answer
    return answer == value


# --- The patient's language (``texts``: a signed-off translation, intake.services.translations)


def _texts(context) -> dict:
    return context.get("texts") or {}


@register.simple_tag(takes_context=True)
def section_title(context, section) -> str:
    return _texts(context).get(f"section:{section.position}") or section.title


@register.simple_tag(takes_context=True)
def question_text(context, question) -> str:
    return _texts(context).get(f"question:{question.code}") or question.text


@register.simple_tag(takes_context=True)
def question_help(context, question) -> str:
    return _texts(context).get(f"help:{question.code}") or question.help_text


@register.simple_tag(takes_context=True)
def option_label(context, question, option) -> str:
    texts = _texts(context)
    if type_of(question).has_choices:
        return texts.get(f"choice:{question.code}:{option.value}") or option.label
    return texts.get({"true": "yes", "false": "no"}.get(option.value, "")) or option.label
