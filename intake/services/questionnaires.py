"""Writing questionnaires: checking a version's definition, publishing it, and starting the next
draft from a version.

Publishing is one-way.  A published version is what patients answer and what submissions point
at, so it never changes again; to change a questionnaire, copy a version into a new draft
(``create_draft_from``), edit the draft, and publish it.
"""

from collections import defaultdict
from collections.abc import Collection

from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils.text import slugify

from intake.models import Choice, Question, Questionnaire, QuestionnaireVersion, Section
from intake.question_types import UNTYPED, type_of

# Long enough to read, short enough for a rule to name; the field holds 64.
CODE_LENGTH = 40


def code_from_text(text: str, *, taken: Collection[str], fallback: str = "question",
                   may_start_with_digit: bool = False) -> str:
    """A code (or choice value) made from what the patient reads: lower-case words joined by
    underscores (accents dropped, other characters left out), cut at a word to
    ``CODE_LENGTH``, and numbered ``_2``, ``_3``... when ``taken`` already has it.

    "Where is your pain?" gives ``where_is_your_pain``.  A question's code must start with a
    letter (``q_`` is put before a leading digit); a choice value may start with a digit.
    """
    words = slugify(text).replace("-", "_").strip("_")
    words = "_".join(part for part in words.split("_") if part)
    if len(words) > CODE_LENGTH:
        words = words[:CODE_LENGTH + 1].rsplit("_", 1)[0] or words[:CODE_LENGTH]
    if not words:
        words = fallback
    elif words[0].isdigit() and not may_start_with_digit:
        words = f"q_{words}"
    code, number = words, 1
    while code in taken:
        number += 1
        code = f"{words}_{number}"
    return code


def question_problems(question: Question, *, choice_values: list[str],
                      questions_by_code: dict[str, Question]) -> dict[str, list[str]]:
    """What is wrong with one question's definition, keyed by the field to fix.

    ``choice_values`` are the question's own choices; ``questions_by_code`` are the other
    questions of the same version, which a show-condition may refer to.
    """
    problems: dict[str, list[str]] = defaultdict(list)
    # An admin form checks a question whose type may not be chosen yet.
    kind = type_of(question, default=UNTYPED)
    if not kind.has_range:
        for field in ("min_value", "max_value"):
            if getattr(question, field) is not None:
                problems[field].append("Only whole-number questions have a smallest and a "
                                       "largest answer; leave this empty.")
    elif (question.min_value is not None and question.max_value is not None
          and question.min_value > question.max_value):
        problems["max_value"].append(
            f"The largest answer ({question.max_value}) is smaller than the smallest "
            f"({question.min_value})."
        )
    if kind.has_max_length:
        if not question.max_length:
            problems["max_length"].append("Text questions need a most-characters limit.")
    elif question.max_length is not None:
        problems["max_length"].append("Only text questions have a most-characters limit; leave "
                                      "this empty.")

    if kind.has_choices:
        if len(choice_values) < 2:
            problems["type"].append("A choice question needs at least two choices.")
        duplicates = sorted({v for v in choice_values if choice_values.count(v) > 1})
        if duplicates:
            problems["type"].append(
                f"Choice values must differ; repeated: {', '.join(duplicates)}."
            )
    elif choice_values:
        problems["type"].append("Only choice questions have choices; remove them or change the "
                                "type.")

    problems.update(_condition_problems(question, questions_by_code))
    return dict(problems)


def _condition_problems(question, questions_by_code) -> dict[str, list[str]]:
    code, answer = question.condition_question, question.condition_answer
    if not code and not answer:
        return {}
    if not code:
        return {"condition_question": ["Say which question this one depends on, or clear the "
                                       "answer too."]}
    if not answer:
        return {"condition_answer": ["Say which answer to that question shows this one."]}
    if code == question.code:
        return {"condition_question": ["A question cannot depend on itself."]}
    target = questions_by_code.get(code)
    if target is None:
        return {"condition_question": [f"There is no question with code “{code}” in this "
                                       "version."]}
    problems = {}
    if question.required:
        problems["required"] = ["A question shown only on a condition cannot be required."]
    if target.condition_question:
        problems["condition_question"] = [
            f"“{code}” is itself shown only on a condition; a condition can depend only on a "
            "question that is always shown."
        ]
    elif not type_of(target, default=UNTYPED).has_options:
        problems["condition_question"] = [
            f"“{code}” is a {target.get_type_display().lower()} question; a condition can "
            "depend only on a yes/no or choice question."
        ]
    else:
        wrong_answer = type_of(target).condition_answer_problem(target, answer)
        if wrong_answer:
            problems["condition_answer"] = [wrong_answer]
    return problems


def version_problems(version: QuestionnaireVersion) -> list[str]:
    """Everything that stops a version from being published, as sentences naming the question."""
    questions = list(
        Question.objects.filter(version=version).prefetch_related("choices").order_by("pk")
    )
    problems = []
    if not questions:
        problems.append("The version has no questions.")
    by_code: dict[str, Question] = {}
    for question in questions:
        if question.code in by_code:
            problems.append(f"Two questions use the code “{question.code}”.")
        by_code[question.code] = question
    for question in questions:
        values = [choice.value for choice in question.choices.all()]
        for field, messages in question_problems(
            question, choice_values=values, questions_by_code=by_code
        ).items():
            problems.extend(f"{question.code} ({field.replace('_', ' ')}): {m}" for m in messages)
    for section in version.sections.filter(questions__isnull=True):
        problems.append(f"Section “{section.title}” has no questions.")
    return problems


def next_number_for(questionnaire_id: int, numbered: QuerySet, field: str) -> int:
    """One more than the highest ``field`` among ``numbered`` (a questionnaire's versions or
    rule sets), with the questionnaire locked until the caller's transaction ends, so two
    admins never take the same number.  Call it inside ``transaction.atomic()``."""
    Questionnaire.objects.select_for_update().get(pk=questionnaire_id)
    latest = numbered.aggregate(latest=Max(field))["latest"]
    return (latest or 0) + 1


def next_version_number(questionnaire_id: int) -> int:
    """The number a new version of the questionnaire takes (see ``next_number_for``)."""
    return next_number_for(
        questionnaire_id, QuestionnaireVersion.objects.filter(questionnaire_id=questionnaire_id),
        "number")


def create_draft_from(version: QuestionnaireVersion) -> QuestionnaireVersion:
    """Copy a version (published or not), with its sections, questions and choices, into a new
    draft numbered after the questionnaire's latest version."""
    with transaction.atomic():
        draft = QuestionnaireVersion.objects.create(
            questionnaire_id=version.questionnaire_id,
            number=next_version_number(version.questionnaire_id),
            title=version.title,
            introduction=version.introduction,
            based_on=version,
        )
        sections = list(version.sections.prefetch_related("questions__choices"))
        new_sections = Section.objects.bulk_create(
            [Section(version=draft, title=s.title, position=s.position) for s in sections]
        )
        questions, choices_by_question = [], []
        for old_section, new_section in zip(sections, new_sections, strict=True):
            for question in old_section.questions.all():
                questions.append(Question(
                    version=draft,
                    section=new_section,
                    **{field: getattr(question, field) for field in _COPIED_QUESTION_FIELDS},
                ))
                choices_by_question.append(list(question.choices.all()))
        Question.objects.bulk_create(questions)
        Choice.objects.bulk_create([
            Choice(question=new_question, value=c.value, label=c.label,
                   is_exclusive=c.is_exclusive, position=c.position)
            for new_question, old_choices in zip(questions, choices_by_question, strict=True)
            for c in old_choices
        ])
    return draft


_COPIED_QUESTION_FIELDS = (
    "code", "text", "help_text", "type", "required", "min_value", "max_value", "max_length",
    "condition_question", "condition_answer", "position",
)
