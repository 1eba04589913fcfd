"""Test data in one place: the clinical vignettes, answer sets and patients to submit, the
helpers that submit them (by the API, the form, FHIR), and what the tests read back (FHIR
resources validated, alerts checked for patient data, notifications waited for).

Every test that needs answers to the current questionnaire (version 2) takes them from here, so
a new questionnaire version means changing this module, not fifty tests.  Version 1 data stays
for the tests that prove old records stay readable.  No test module imports another test module:
what two of them share lives here, or, for driving the browser's pages, in
``tests/browser/pages.py``.

The data itself (vignettes, answers, patients) is in ``support/clinical_data.py``, which the
benchmarks in ``bench/`` use too; this module adds what only tests do with it.
"""

from __future__ import annotations

import datetime
import json
import re

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse,
    QuestionnaireResponseItem,
    QuestionnaireResponseItemAnswer,
)
from fhir.resources.R4B.reference import Reference
from hypothesis import strategies as st
from rest_framework.test import APIClient

from clinic.alerting import alerts
from clinic.models import Alert, Heartbeat, Notification, OpeningHours
from intake.models import Question, StoredAnswer, Submission
from intake.references import new_reference
from intake.selectors import QuestionSpec, VersionSchema
from intake.services.submissions import submit_intake
from support.clinical_data import (
    ANSWERS_BY_URGENCY,
    CHEST_PAIN,
    EMERGENCY,
    PATIENT,
    PATIENT_OF_ANY_AGE,
    ROUTINE,
    SOON,
    URGENT,
    VIGNETTES,
    VIGNETTES_V1,
    date_of_birth_for,
    facts,
    patient_aged,
    routine_answers,
    routine_answers_v1,
    vignette,
)
from support.real_services import wait_until

__all__ = [
    "ANSWERS", "ANSWERS_BY_URGENCY", "CHEST_PAIN", "CLAIM_SECONDS", "COMMITTED", "CURRENT_ID",
    "EMERGENCY", "END_OF_DAY", "FHIR_JSON", "PATIENT", "PATIENT_DATA", "PATIENT_OF_ANY_AGE",
    "ROUTINE", "SECOND", "SITE_URL", "SOON", "SUBMISSIONS_URL", "SWEEP_SECONDS", "TRAUMA_TEXT",
    "URGENT", "URGENT_FEVER", "VIGNETTES", "VIGNETTES_V1", "about_you", "answer_strategy", "api",
    "build_response", "condition_holds", "current_questionnaire", "date_of_birth_for", "facts",
    "fhir_json", "fill_form", "form_data", "issue_text", "issues", "make_case", "notification_for",
    "patient_aged", "patient_data_in", "post_response", "post_submission", "questions_of",
    "raise_urgent", "refusal", "routine_answers", "routine_answers_v1", "save_refused", "send_form",
    "submit_emergency", "valid_answers", "validated", "version_shape", "vignette",
    "wait_for_status", "wait_for_sweeps",
]

SUBMISSIONS_URL = "/api/submissions/"

# The database of a test whose data another process or thread must see (a Celery worker, the
# live server a browser talks to): committed for real, and what ``migrate`` made (the default
# clinic, questionnaire and rule set) put back after each test, which empties the tables.
COMMITTED = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def another_connection(**options) -> psycopg.Connection:
    """A connection of its own to the test database, as another process (a worker, a deploy's
    migration) would have."""
    settings = connection.settings_dict
    return psycopg.connect(dbname=settings["NAME"], host=settings["HOST"],
                           port=settings["PORT"] or 5432, user=settings["USER"], **options)


def post_submission(client, body, **headers):
    """POST ``body`` (a dict, sent as JSON, or the raw str or bytes) to /api/submissions/ with
    Django's test ``client``, as a REST client sends an intake."""
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(SUBMISSIONS_URL, data=data, content_type="application/json",
                       headers=headers)


def form_data(answers=ROUTINE, **extra):
    """What a browser posts from a page of the patient's form: the answers as strings, a list
    per several-choices question (a page keeps the ones it asks and ignores the rest)."""
    data = {}
    for code, value in answers.items():
        if isinstance(value, bool):
            data[code] = "true" if value else "false"
        elif isinstance(value, list):
            data[code] = value
        else:
            data[code] = str(value)
    return {**data, **extra}


def about_you(patient=PATIENT) -> dict:
    """What a browser posts from the form's "About you" page (the date of birth in three
    boxes)."""
    born = datetime.date.fromisoformat(patient["date_of_birth"])
    return {"full_name": patient["full_name"], "dob_day": str(born.day),
            "dob_month": str(born.month), "dob_year": str(born.year),
            "phone": patient["phone"], "email": patient.get("email", "")}


def fill_form(client, answers=ROUTINE, patient=PATIENT, *, start="/", **request):
    """Fill in the patient's form page by page, as a browser without JavaScript does, from its
    first page at ``start`` up to "Check your answers" (not sent); ``request`` goes with each
    POST (e.g. ``REMOTE_ADDR``).  Returns the last response: the redirect to the check page, or
    the page that had problems (200)."""
    response = client.post(start, about_you(patient), **request)
    while response.status_code == 302 and "/step/" in response["Location"]:
        response = client.post(response["Location"], form_data(answers), **request)
    return response


def send_form(client, answers=ROUTINE, patient=PATIENT, *, start="/", **request):
    """Fill in the form (``fill_form``) and send it from "Check your answers"; returns the
    response to the send (a redirect to /advice/ when it went), or the page with problems."""
    response = fill_form(client, answers, patient, start=start, **request)
    if response.status_code != 302:
        return response
    return client.post(response["Location"], **request)


def version_shape(version):
    """Everything a patient sees of a questionnaire version, without ids: its sections' titles
    and each question's code, type, text, limits, condition and choices, in order."""
    return [
        (s.title, [
            (q.code, q.type, q.text, q.help_text, q.required, q.min_value, q.max_value,
             q.max_length, q.condition_question, q.condition_answer,
             [(c.value, c.label, c.is_exclusive) for c in q.choices.all()])
            for q in s.questions.order_by("position")
        ])
        for s in version.sections.order_by("position")
    ]


# --- Frozen versions and rule sets (core.immutability), and what publishing refuses ------------


def save_refused(record, error: type[Exception], **changes) -> None:
    """Sets ``changes`` on ``record`` and expects saving it to raise ``error``: the frozen
    owner's (a published version's, an active or retired rule set's)."""
    for field, value in changes.items():
        setattr(record, field, value)
    with pytest.raises(error):
        record.save()


def refusal(call, *args) -> str:
    """The messages of the ``ValidationError`` that ``call(*args)`` raises, as one text to look
    for each problem in."""
    with pytest.raises(ValidationError) as raised:
        call(*args)
    return " | ".join(raised.value.messages)


def make_case(urgency, *, name="Ada Example", minutes_ago=0):
    """A case in the review queue: ``PATIENT``, called ``name``, sent answers of ``urgency``
    (``ANSWERS_BY_URGENCY``) through the submission service ``minutes_ago`` minutes ago."""
    submission = submit_intake(patient={**PATIENT, "full_name": name},
                               answers=ANSWERS_BY_URGENCY[urgency]).submission
    Submission.objects.filter(pk=submission.pk).update(
        submitted_at=timezone.now() - datetime.timedelta(minutes=minutes_ago))
    assert submission.urgency == urgency
    return submission


def answer_to(submission: Submission, code: str) -> StoredAnswer:
    """``submission``'s answer to the question ``code``, with that question."""
    return next(answer for answer in submission.answered if answer.question_code == code)


def copies(source: Submission, count: int, *, clinic=None) -> None:
    """``count`` more cases like ``source`` (without its answers and flags), each a second older
    than the last, at ``clinic`` or the same one: a long queue, quickly."""
    Submission.objects.bulk_create(
        Submission(reference=new_reference(), clinic=clinic or source.clinic,
                   questionnaire_version=source.questionnaire_version,
                   full_name=source.full_name, date_of_birth=source.date_of_birth,
                   phone=source.phone, urgency=source.urgency, rule_set=source.rule_set,
                   submitted_at=source.submitted_at - datetime.timedelta(seconds=i + 1))
        for i in range(count))


# --- Answer sets for the property tests (tests/screening/test_screening_properties.py) -------


def questions_of(version) -> tuple[QuestionSpec, ...]:
    return tuple(VersionSchema.of(version).questions.values())


def answer_strategy(question: QuestionSpec, phrases: tuple[str, ...] = ()):
    """Any valid answer to ``question``; for a text question, with ``phrases``, one in two
    written around one of them (as a patient would mention "a stent" in a sentence)."""
    if question.type == Question.Type.BOOLEAN:
        return st.booleans()
    if question.type == Question.Type.INTEGER:
        return st.integers(question.min_value, question.max_value)
    if question.type == Question.Type.SINGLE_CHOICE:
        return st.sampled_from(question.choices)
    if question.type == Question.Type.MULTI_CHOICE:
        ordinary = [c for c in question.choices if c not in question.exclusive]
        some = st.lists(st.sampled_from(ordinary), min_size=1, unique=True)
        return st.one_of(some, *(st.just([e]) for e in question.exclusive))
    longest = min(question.max_length or 40, 40)
    text = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1,
                   max_size=longest)
    if not phrases:
        return text
    words = st.text(alphabet=st.characters(categories=("L",)), max_size=10)
    mentions = st.builds(lambda before, phrase, after: f"{before} {phrase} {after}".strip(),
                         words, st.sampled_from(phrases), words)
    return st.one_of(text, mentions.filter(lambda mention: len(mention) <= longest))


def condition_holds(question: QuestionSpec, answers: dict,
                    questions: tuple[QuestionSpec, ...]) -> bool:
    """Whether a question shown on a condition is shown, judged as the service judges it: by
    the type of the question it depends on (``matches_condition``: the answer named, or, for a
    several-choices question, one that includes it)."""
    given = answers.get(question.condition_question)
    if given is None:
        return False
    target = next(q for q in questions if q.code == question.condition_question)
    return target.kind.matches_condition(given, question.condition_answer)


def valid_answers(questions: tuple[QuestionSpec, ...], phrases: tuple[str, ...] = ()):
    """Answer sets the intake would accept: types and ranges respected, every required question
    answered, an exclusive choice ('none') only on its own, a question shown on a condition
    answered only when its condition holds, optional questions sometimes left out; text answers
    mention ``phrases`` half the time (``answer_strategy``)."""

    @st.composite
    def build(draw):
        answers = {}
        for question in questions:
            if (question.condition_question
                    and not condition_holds(question, answers, questions)):
                continue
            if question.always_answered or draw(st.booleans()):
                answers[question.code] = draw(answer_strategy(question, phrases))
        return answers

    return build()


# --- FHIR: what a FHIR client sends, and what the service's resources must be ----------------
# fhir.resources' R4B models validate everything the FHIR endpoints emit (tests/fhir/,
# tests/screening/test_vignettes_v2.py, tests/test_hardening.py).

FHIR_JSON = "application/fhir+json"
CURRENT_ID = "upper-back-pain-2"  # version 2 is current


def validated(resource: dict):
    """``resource`` parsed by the R4B model of its type, which refuses anything FHIR R4 does not
    allow (unknown elements, wrong types, malformed ids, dates and codes); every contained
    resource and bundle entry is parsed as its own type too."""
    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for contained in resource.get("contained", []):
        validated(contained)
    for entry in resource.get("entry", []):
        validated(entry["resource"])
    return model


def fhir_json(response, status: int = 200) -> dict:
    """The body of a FHIR response, after checking its status, media type and validity."""
    assert response.status_code == status, response.content[:2000]
    assert response["Content-Type"] == FHIR_JSON, response["Content-Type"]
    body = response.json()
    validated(body)
    return body


def issues(response, status: int = 400) -> list[dict]:
    """The issues of an OperationOutcome error response."""
    body = fhir_json(response, status)
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"]
    return body["issue"]


def issue_text(response, status: int = 400) -> str:
    return "\n".join(i["details"]["text"] for i in issues(response, status))


def api(user=None, **credentials) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    if credentials:
        client.credentials(**credentials)
    return client


def current_questionnaire() -> dict:
    return fhir_json(api().get(f"/api/fhir/Questionnaire/{CURRENT_ID}"))


def build_response(questionnaire: dict, answers: dict, patient: dict) -> QuestionnaireResponse:
    """A QuestionnaireResponse as a FHIR client builds one: from the served Questionnaire's
    items (groups of questions), typed as each item's type says, with fhir.resources' models."""
    groups = []
    for group in questionnaire["item"]:
        items = [
            QuestionnaireResponseItem(linkId=question["linkId"], text=question["text"],
                                      answer=_fhir_answers(question, answers[question["linkId"]]))
            for question in group["item"] if answers.get(question["linkId"]) is not None
        ]
        if items:
            groups.append(QuestionnaireResponseItem(linkId=group["linkId"], text=group["text"],
                                                    item=items))
    telecom = [ContactPoint(system="phone", value=patient["phone"])]
    if patient.get("email"):
        telecom.append(ContactPoint(system="email", value=patient["email"]))
    return QuestionnaireResponse(
        contained=[Patient(id="patient", name=[HumanName(text=patient["full_name"])],
                           birthDate=patient["date_of_birth"], telecom=telecom)],
        questionnaire=f"{questionnaire['url']}|{questionnaire['version']}",
        status="completed",
        subject=Reference(reference="#patient"),
        item=groups,
    )


def _fhir_answers(question: dict, value) -> list[QuestionnaireResponseItemAnswer]:
    if question["type"] == "choice":
        options = {o["valueCoding"]["code"]: o["valueCoding"] for o in question["answerOption"]}
        values = value if isinstance(value, list) else [value]
        return [QuestionnaireResponseItemAnswer(valueCoding=Coding(**options[v])) for v in values]
    key = {"boolean": "valueBoolean", "integer": "valueInteger", "text": "valueString",
           "string": "valueString"}[question["type"]]
    return [QuestionnaireResponseItemAnswer(**{key: value})]


def post_response(client, body, content_type: str = FHIR_JSON):
    """POST a QuestionnaireResponse: a model is sent as its FHIR JSON, a str or bytes as is."""
    if isinstance(body, QuestionnaireResponse):
        body = body.model_dump_json()
    elif not isinstance(body, str | bytes):
        body = json.dumps(body)
    return client.generic("POST", "/api/fhir/QuestionnaireResponse", data=body,
                          content_type=content_type)


# --- Alerting end to end: the real worker's settings, an emergency to page about, and what an
# alert must never carry (tests/alerts/) ----------------------------------------------------

SITE_URL = "https://clinic.test"
# A worker holds a notification this long before another may take it over; short, so a test
# that kills a worker does not wait a minute for the sweep to hand its work on.
CLAIM_SECONDS = 3
# The sweep every half second (ALERT_SWEEP_SECONDS takes decimals), so what waits on it (a
# digest at its window's end, an alert re-queued after an outage, ``wait_for_sweeps``) waits
# half as long as at 1 s.
SWEEP_SECONDS = 0.5
# The alert tests set the sweep's and the delivery's clock (``now``) a second either side of a
# deadline.
SECOND = datetime.timedelta(seconds=1)

END_OF_DAY = datetime.time(23, 59, 59, 999999)

TRAUMA_TEXT = "Slipped on the ice outside Tesco and landed on my back"
# Chest pain (an emergency), and a minor fall told in the patient's own words.
ANSWERS = routine_answers(**EMERGENCY, recent_trauma=True, trauma_details=TRAUMA_TEXT)
# An urgent case (rule "fever"), which the alert tests submit to be paged about.
URGENT_FEVER = routine_answers(fever_chills=True)

# What an alert must never carry: who the patient is, and what they answered.
PATIENT_DATA = [
    PATIENT["full_name"], "Ada", PATIENT["phone"], "7700 900123", "7700900123",
    PATIENT["date_of_birth"], "02/03/1971", "1971", PATIENT["email"], TRAUMA_TEXT, "Tesco",
    "chest", "between_shoulder_blades", "after_strain", "desk_sitting",
]


def patient_data_in(text: str) -> list[str]:
    return [item for item in PATIENT_DATA
            if re.search(rf"(?<!\w){re.escape(item)}(?!\w)", text, re.IGNORECASE)]


def submit_emergency(client) -> str:
    response = post_submission(client, {"patient": PATIENT, "answers": ANSWERS})
    assert response.status_code == 201, response.content
    assert response.json()["urgency"] == "emergency"
    return response.json()["reference"]


def open_round_the_clock(clinic) -> None:
    """The clinic open every hour of every day, so a test's alerts never fall out of hours."""
    clinic.opening_hours.all().delete()
    OpeningHours.objects.bulk_create(
        OpeningHours(clinic=clinic, weekday=day, opens=datetime.time(0), closes=END_OF_DAY)
        for day in range(7))


def open_weekdays(clinic) -> None:
    """The clinic open Monday to Friday, 09:00 to 17:00 in its time zone, and at no other time."""
    clinic.opening_hours.all().delete()
    OpeningHours.objects.bulk_create(
        OpeningHours(clinic=clinic, weekday=day, opens=datetime.time(9), closes=datetime.time(17))
        for day in range(5))


def raise_urgent() -> Alert:
    """An urgent intake through the API (in this process, no broker); its alert."""
    response = APIClient().post("/api/submissions/", {
        "patient": patient_aged(40, timezone.localdate()), "answers": routine_answers(**URGENT)},
        format="json")
    assert response.json()["urgency"] == "urgent"
    return Alert.objects.get(submission__reference=response.json()["reference"])


def notification_for(reference: str, clinician) -> Notification:
    return Notification.objects.get(alert__submission__reference=reference, clinician=clinician)


def wait_for_status(notification: Notification, status: str, *, detail=None,
                    timeout: float = 30) -> Notification:
    def reached():
        notification.refresh_from_db()
        return notification.status == status

    wait_until(reached, what=f"notification {notification.pk} to be {status}", detail=detail,
               timeout=timeout)
    return notification


def wait_for_sweeps(count: int = 2, *, detail=None) -> None:
    """Let the beat-driven sweep run ``count`` more times (it would re-queue anything due),
    counted from its first run if it has not run yet (beat starts beside the worker)."""
    since = wait_until(
        lambda: Heartbeat.objects.filter(name=alerts.SWEEP_HEARTBEAT)
        .values_list("last_run_at", flat=True).first(),
        what="the sweep's first run", detail=detail, timeout=10 + SWEEP_SECONDS * 3)

    def swept():
        heartbeat = Heartbeat.objects.get(name=alerts.SWEEP_HEARTBEAT).last_run_at
        return (heartbeat - since).total_seconds() >= count * SWEEP_SECONDS

    wait_until(swept, what=f"{count} more sweeps", detail=detail,
               timeout=10 + count * SWEEP_SECONDS * 3)
