"""Validating the patient's own details, which belong to the submission, not to a question."""

import datetime
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

OLDEST_AGE_YEARS = 130
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PHONE_CHARACTERS = re.compile(r"^\+?[0-9 ()\-.]+$")


class PatientInvalid(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("patient details are invalid")
        self.errors = errors


@dataclass(frozen=True)
class PatientDetails:
    full_name: str
    date_of_birth: datetime.date
    phone: str
    email: str = ""


FIELDS = ("full_name", "date_of_birth", "phone", "email")


def clean_patient(raw: Any) -> PatientDetails:
    """Check the patient's details; raise ``PatientInvalid`` naming every problem at once."""
    if not isinstance(raw, dict):
        raise PatientInvalid({"non_field_errors": [
            "Send the patient's details as an object with full_name, date_of_birth, phone and "
            "optionally email."
        ]})
    errors: dict[str, list[str]] = {}
    for key in raw:
        if key not in FIELDS:
            errors[str(key)[:64]] = ["Unknown field; the patient's details are full_name, "
                                     "date_of_birth, phone and email."]
    checks = {
        "full_name": _full_name,
        "date_of_birth": _date_of_birth,
        "phone": _phone,
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
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(f"Enter {what}.")
    if not isinstance(value, str):
        raise ValidationError(f"Enter {what} as text.")
    value = " ".join(value.split())
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationError("Remove the control characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("This contains characters that are not valid text.") from None
    if len(value) > max_length:
        raise ValidationError(f"Keep this to {max_length} characters or fewer.")
    return value


def _full_name(value) -> str:
    return _text(value, what="your full name", max_length=200)


def _date_of_birth(value) -> datetime.date:
    if value is None or value == "":
        raise ValidationError("Enter your date of birth.")
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValidationError("Enter the date of birth as year-month-day, e.g. 1971-03-02.")
    try:
        born = datetime.date.fromisoformat(value)
    except ValueError:
        raise ValidationError("That date does not exist; check the day and month.") from None
    today = timezone.localdate()
    if born > today:
        raise ValidationError("The date of birth cannot be in the future.")
    if born.year < today.year - OLDEST_AGE_YEARS:
        raise ValidationError("Check the year of birth.")
    return born


def _phone(value) -> str:
    phone = _text(value, what="a phone number we can call you on", max_length=40)
    digits = sum(ch.isdigit() for ch in phone)
    if not _PHONE_CHARACTERS.match(phone) or not 7 <= digits <= 15:
        raise ValidationError("Enter a phone number we can call, e.g. 07700 900123 or "
                              "+44 7700 900123.")
    return phone


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
