"""Test data in one place: the clinical vignettes, answer sets and patients to submit.

Every test that needs answers to the current questionnaire (version 2) takes them from here, so
a new questionnaire version means changing this module, not fifty tests.  Version 1 data stays
for the tests that prove old records stay readable.
"""

import copy
import datetime
import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

VIGNETTES_V1 = json.loads((DATA / "vignettes.json").read_text())
VIGNETTES = json.loads((DATA / "vignettes-v2.json").read_text())

PATIENT = {
    "full_name": "Ada Example",
    "date_of_birth": "1980-05-17",
    "phone": "07700 900123",
    "email": "ada@example.org",
}


def vignette(case_id: str, vignettes=None) -> dict:
    """A deep copy of one vignette, by id (``v2-01``; version 1's are ``d01``...)."""
    for case in vignettes or (VIGNETTES_V1 if not case_id.startswith("v2") else VIGNETTES):
        if case["id"] == case_id:
            return copy.deepcopy(case)
    raise KeyError(case_id)


def routine_answers(**changes) -> dict:
    """Version 2 answers of an office worker with ordinary mechanical pain (v2-01): nothing
    fires, whatever the age.  ``changes`` replace answers (``routine_answers(jaundice=True)``)."""
    return {**vignette("v2-01")["answers"], **changes}


# Changes to ``routine_answers()`` that make exactly one rule of the current rule set fire, one
# per tier (triage-rules-v2.md), whatever the age and sex: for tests that need "an emergency",
# "an urgent case" or "a case for review" and do not test the rules themselves.
EMERGENCY = {"chest_pain": True}  # cardiac_chest_pain
URGENT = {"jaundice": True}  # jaundice
SOON = {"numbness_tingling": ["arms_hands"]}  # neuro_numbness


def routine_answers_v1() -> dict:
    """Version 1 answers that nothing fires on (d01), for records made before version 2."""
    return vignette("d01")["answers"]


def facts(age: int = 40, on: datetime.date = datetime.date(2026, 1, 5)):
    """What screening needs besides the answers (``screening.engine.Facts``) for a patient who
    is ``age`` on ``on``: for calling ``screen``/``screen_answers`` directly, since rule set
    version 2 uses the age."""
    from screening.engine import Facts

    return Facts(date_of_birth=date_of_birth_for(age, on), submitted_on=on)


def date_of_birth_for(age: int, on: datetime.date) -> datetime.date:
    """A date of birth that makes the patient exactly ``age`` on ``on``: the birthday was the
    day before (triage-rules-v2.md), 28 February standing in for 29 February."""
    day_before = on - datetime.timedelta(days=1)
    try:
        return day_before.replace(year=day_before.year - age)
    except ValueError:
        return day_before.replace(year=day_before.year - age, day=28)


def patient_aged(age: int, on: datetime.date, **details) -> dict:
    """``PATIENT`` with a date of birth that makes them ``age`` on ``on``."""
    return {**PATIENT, "date_of_birth": date_of_birth_for(age, on).isoformat(), **details}
