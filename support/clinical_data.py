"""The clinical data that the tests and the benchmarks submit: the vignettes of the clinical
specification (``tests/data/vignettes.json`` for questionnaire version 1,
``tests/data/vignettes-v2.json`` for version 2, the current one), answer sets made from them,
and patients, including one who is a given age on a given day (rule set version 2 uses the age).

Tests take all of it from ``tests/factories.py``, which adds the helpers only tests use
(submitting through Django's test client, the form's POST data, cases in the queue); the
benchmarks in ``bench/`` import this module directly.
"""

from __future__ import annotations

import copy
import datetime
import json
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"

VIGNETTES_V1 = json.loads((DATA / "vignettes.json").read_text())
VIGNETTES = json.loads((DATA / "vignettes-v2.json").read_text())


def vignette(case_id: str, vignettes=None) -> dict:
    """A deep copy of one vignette, by id (``v2-01``; version 1's are ``d01``...)."""
    for case in vignettes or (VIGNETTES_V1 if not case_id.startswith("v2") else VIGNETTES):
        if case["id"] == case_id:
            return copy.deepcopy(case)
    raise KeyError(case_id)


# --- Answers --------------------------------------------------------------------------------


def routine_answers(**changes) -> dict:
    """Version 2 answers of an office worker with ordinary mechanical pain (v2-01): nothing
    fires, whatever the age.  ``changes`` replace answers (``routine_answers(jaundice=True)``)."""
    return {**vignette("v2-01")["answers"], **changes}


# The current version's answers of vignette v2-01 (ordinary mechanical pain; nothing fires):
# the valid answer set every intake test starts from.  One dict, shared by everything that
# imports it: copy it (``{**ROUTINE, ...}``) to change it.
ROUTINE = routine_answers()

# Changes to ``routine_answers()`` that make exactly one rule of the current rule set fire, one
# per tier (triage-rules-v2.md), whatever the age and sex: for tests that need "an emergency",
# "an urgent case" or "a case for review" and do not test the rules themselves.
EMERGENCY = {"chest_pain": True}  # cardiac_chest_pain
URGENT = {"jaundice": True}  # jaundice
SOON = {"numbness_tingling": ["arms_hands"]}  # neuro_numbness

# An emergency: the routine answers with chest pain (cardiac_chest_pain fires).
CHEST_PAIN = routine_answers(**EMERGENCY)

# Answers of each urgency, each making exactly one rule fire (above), or none for routine.
ANSWERS_BY_URGENCY = {
    "routine": routine_answers(),
    "soon": routine_answers(**SOON),
    "urgent": routine_answers(**URGENT),
    "emergency": routine_answers(**EMERGENCY),
}


def routine_answers_v1() -> dict:
    """Version 1 answers that nothing fires on (d01), for records made before version 2."""
    return vignette("d01")["answers"]


# --- Patients -------------------------------------------------------------------------------

# The patient most tests submit, with fixed details that tests check for: the FHIR Patient
# resource made from them (tests/fhir), and the date of birth and phone number, in every form,
# that an alert must never carry (``PATIENT_DATA`` in tests/factories.py).
PATIENT = {"full_name": "Ada Example", "date_of_birth": "1971-03-02",
           "phone": "+44 7700 900123", "email": "ada@example.org"}

# The patient ``patient_aged()`` starts from; its date of birth is always replaced.  Not
# ``PATIENT``: its phone number is in the national form, and the tests that use it were
# written against these details.
PATIENT_OF_ANY_AGE = {
    "full_name": "Ada Example",
    "date_of_birth": "1980-05-17",
    "phone": "07700 900123",
    "email": "ada@example.org",
}


def date_of_birth_for(age: int, on: datetime.date) -> datetime.date:
    """A date of birth that makes the patient exactly ``age`` on ``on``: the birthday was the
    day before (triage-rules-v2.md), 28 February standing in for 29 February."""
    day_before = on - datetime.timedelta(days=1)
    try:
        return day_before.replace(year=day_before.year - age)
    except ValueError:
        return day_before.replace(year=day_before.year - age, day=28)


def patient_aged(age: int, on: datetime.date, **details) -> dict:
    """``PATIENT_OF_ANY_AGE`` with a date of birth that makes them ``age`` on ``on``, and any
    other ``details`` changed (``full_name="Mary Seacole"``)."""
    return {**PATIENT_OF_ANY_AGE, "date_of_birth": date_of_birth_for(age, on).isoformat(),
            **details}


def facts(age: int = 40, on: datetime.date = datetime.date(2026, 1, 5)):
    """What screening needs besides the answers (``screening.engine.Facts``) for a patient who
    is ``age`` on ``on``: for calling ``screen``/``screen_answers`` directly, since rule set
    version 2 uses the age."""
    # Imported when called: the benchmarks import this module before Django is set up.
    from screening.engine import Facts

    return Facts(date_of_birth=date_of_birth_for(age, on), submitted_on=on)
