"""Validating the patient's own details, which belong to the submission, not to a question."""

import datetime
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from core.errors import Invalid
from intake.models import age_on
from intake.quoting import printable
from intake.services.answers import MAX_UNKNOWN_CODES_NAMED
from intake.services.text import hidden_character_problem

# Screening derives the age from the date of birth; an age above this is a typing mistake,
# never screened with a guessed age (triage-rules-v2.md, "Derived values").
OLDEST_AGE_YEARS = 120
# ASCII digits only: \d would take Arabic-Indic and other digits, which fromisoformat refuses.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# What a phone number may be written with, checked on what was sent (the OpenAPI document
# states the same pattern, so a client can check before sending).
PHONE_PATTERN = r"^ *\+?[0-9 ()\-.]+$"
_PHONE_CHARACTERS = re.compile(PHONE_PATTERN)


class PatientInvalid(Invalid):
    """``errors`` maps each detail at fault (or ``non_field_errors``) to its messages."""


@dataclass(frozen=True)
class PatientDetails:
    full_name: str
    date_of_birth: datetime.date
    phone: str
    email: str = ""


FIELDS = ("full_name", "date_of_birth", "phone", "email")


def clean_patient(raw: Any, *, today: datetime.date | None = None,
                  phone_required: bool = True) -> PatientDetails:
    """Check the patient's details; raise ``PatientInvalid`` naming every problem at once.

    ``today`` is the submission's date in the clinic's time zone (by default the site's), the
    date the age is worked out on.  An appointment may be booked without a phone number
    (``phone_required=False``); the patient gives one on the form."""
    today = today or timezone.localdate()
    if not isinstance(raw, dict):
        raise PatientInvalid({"non_field_errors": [
            "Send the patient's details as an object with full_name, date_of_birth, phone and "
            "optionally email."
        ]})
    errors: dict[str, list[str]] = {}
    unknown = [key for key in raw if key not in FIELDS]
    for key in unknown[:MAX_UNKNOWN_CODES_NAMED]:
        errors[printable(key)] = ["Unknown field; the patient's details are full_name, "
                                  "date_of_birth, phone and email."]
    checks = {
        "full_name": _full_name,
        "date_of_birth": lambda value: _date_of_birth(value, today),
        "phone": _phone if phone_required else _optional(_phone),
        "email": _email,
    }
    cleaned = {}
    for field, check in checks.items():
        try:
            cleaned[field] = check(raw.get(field))
        except ValidationError as error:
            errors[field] = list(error.messages)
    if errors:
        raise PatientInvalid(errors)
    return PatientDetails(**cleaned)


def _text(value, *, what: str, max_length: int) -> str:
    """One line of text: runs of white space become one space; control characters and text
    that is not valid Unicode (lone surrogates) are refused.  The length limit applies to what
    was sent, as the OpenAPI document's maxLength says."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(f"Enter {what}.")
    if not isinstance(value, str):
        raise ValidationError(f"Enter {what} as text.")
    if len(value) > max_length:
        raise ValidationError(f"Keep this to {max_length} characters or fewer.")
    value = " ".join(value.split())
    if any(unicodedata.category(ch) == "Cs" for ch in value):
        raise ValidationError("This contains characters that are not valid text.")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValidationError("Remove the control characters.")
    hidden = hidden_character_problem(value)
    if hidden:
        raise ValidationError(hidden)
    return value


def _full_name(value) -> str:
    # NFC, so that a name typed with combining accents is stored as the same text as one typed
    # with precomposed letters.
    name = unicodedata.normalize("NFC", _text(value, what="your full name", max_length=200))
    if not any(unicodedata.category(ch).startswith("L") for ch in name):
        raise ValidationError("Enter your full name in letters.")
    return name


def _date_of_birth(value, today: datetime.date) -> datetime.date:
    if value is None or value == "":
        raise ValidationError("Enter your date of birth.")
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValidationError("Enter the date of birth as year-month-day, e.g. 1971-03-02.")
    try:
        born = datetime.date.fromisoformat(value)
    except ValueError:
        raise ValidationError("That date does not exist; check the day, month and year.") from None
    if born > today:
        raise ValidationError("The date of birth cannot be in the future.")
    age = age_on(born, today)
    if age > OLDEST_AGE_YEARS:
        raise ValidationError(f"Check the year of birth: that would make you {age} years old.")
    return born


def _phone(value) -> str:
    phone = _text(value, what="a phone number we can call you on", max_length=40)
    digits = sum(ch.isdigit() for ch in phone)
    if not _PHONE_CHARACTERS.fullmatch(value.rstrip(" ")) or not 7 <= digits <= 15:
        raise ValidationError("Enter a phone number we can call, e.g. 07700 900123 or "
                              "+44 7700 900123.")
    return phone


def _optional(check):
    def optional(value):
        return "" if value is None or value == "" else check(value)
    return optional


def _email(value) -> str:
    if value is None or value == "":
        return ""
    email = _text(value, what="an email address", max_length=254)
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError("Enter an email address like name@example.org, or leave it "
                              "empty.") from None
    return email
