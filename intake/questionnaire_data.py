"""The frozen questionnaire versions the migrations publish, read from ``intake/data/``.

``questionnaire-v1.json`` and ``questionnaire-v2.json`` hold versions 1 and 2 of the upper back
pain intake exactly as the question banks set them out.  They are published clinical data: the
migrations that publish them read them, so they must never change (admins change the
questionnaire by creating a new draft in the admin).  ``intake.default_questionnaire`` and
``intake.default_questionnaire_v2`` expose them as before.

A section is ``(title, questions)``; a question is ``(code, type, text, options)``, where the
options may hold ``required``, ``help_text``, ``min_value``, ``max_value``, ``max_length``,
``condition`` (``(question code, answer)``) and ``choices`` (``(value, label)``, or
``(value, label, {"is_exclusive": True})``).  Codes and choice values are a public contract.
"""

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def _question(question: dict) -> tuple:
    options = dict(question)
    code, type_, text = options.pop("code"), options.pop("type"), options.pop("text")
    if "condition" in options:
        options["condition"] = tuple(options["condition"])
    if "choices" in options:
        options["choices"] = [tuple(choice) for choice in options["choices"]]
    return code, type_, text, options


def load(name: str) -> dict:
    """The questionnaire in ``intake/data/<name>``: its ``slug``, ``title``, ``introduction``
    (and ``name``, where it has one) as written, and its ``sections`` as described above."""
    data = json.loads((DATA / name).read_text(encoding="utf-8"))
    data["sections"] = [
        (section["title"], [_question(question) for question in section["questions"]])
        for section in data["sections"]
    ]
    return data


def create_sections(version, sections, Section, Question, Choice) -> None:
    """Create ``sections`` (as ``load`` returns them) with their questions and choices in
    ``version``.  Takes the model classes so that a data migration can pass its historical
    models."""
    for section_position, (section_title, questions) in enumerate(sections):
        section = Section.objects.create(
            version=version, title=section_title, position=section_position
        )
        for position, (code, type_, text, options) in enumerate(questions):
            condition_question, condition_answer = options.get("condition", ("", ""))
            question = Question.objects.create(
                version=version,
                section=section,
                code=code,
                type=type_,
                text=text,
                help_text=options.get("help_text", ""),
                required=options.get("required", False),
                min_value=options.get("min_value"),
                max_value=options.get("max_value"),
                max_length=options.get("max_length"),
                condition_question=condition_question,
                condition_answer=condition_answer,
                position=position,
            )
            Choice.objects.bulk_create(
                Choice(
                    question=question,
                    value=value,
                    label=label,
                    position=choice_position,
                    is_exclusive=bool(extra and extra[0].get("is_exclusive")),
                )
                for choice_position, (value, label, *extra) in enumerate(
                    options.get("choices", [])
                )
            )
