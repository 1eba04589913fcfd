"""Turning what an HTML form posts (strings) into the JSON-typed answers the submission service
validates.  Nothing is judged here: each question's type converts its own field
(``QuestionType.from_form``), a value that cannot be converted is passed on as the string it
was, and the service's one validation names the problem."""

import datetime

from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from intake.selectors import VersionSchema


def answers_from_form(schema: VersionSchema, data: QueryDict) -> dict:
    answers = {}
    for code, question in schema.questions.items():
        answer = question.kind.from_form(data, code)
        if answer is not None:
            answers[code] = answer
    return answers


class DateInvalid(ValueError):
    """A date typed in three fields that is not one; ``part`` is the field to fix first."""

    def __init__(self, message: str, part: str = "day"):
        super().__init__(message)
        self.part = part


def date_from_parts(*, day: str, month: str, year: str, what: str = "",
                    today: datetime.date | None = None) -> datetime.date:
    """A past date of birth from the day, month and year fields, with GOV.UK's messages for
    what is wrong, in the language active now."""
    parts = {"day": day, "month": month, "year": year}
    names = {"day": _("day"), "month": _("month"), "year": _("year")}
    missing = [name for name, value in parts.items() if not value]
    if len(missing) == 3:
        raise DateInvalid(_("Enter your date of birth"))
    if missing:
        raise DateInvalid(_("Your date of birth must include a %(parts)s") % {
            "parts": _(" and ").join(str(names[name]) for name in missing)}, missing[0])
    if not all(value.isascii() and value.isdigit() for value in parts.values()):
        wrong = next(name for name, value in parts.items()
                     if not (value.isascii() and value.isdigit()))
        raise DateInvalid(_("Your date of birth must be a real date"), wrong)
    if len(year) != 4:
        raise DateInvalid(_("Year must include 4 numbers"), "year")
    try:
        date = datetime.date(int(year), int(month), int(day))
    except ValueError:
        raise DateInvalid(_("Your date of birth must be a real date")) from None
    if date >= (today or timezone.localdate()):
        raise DateInvalid(_("Your date of birth must be in the past"))
    return date
