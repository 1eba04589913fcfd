"""The question-type registry (``intake.question_types``): every type a question can have is one
class there, and validation, the form, screening and FHIR all go through it, so a new type is
one class (and, if no control fits, one template)."""

import datetime
import re

import pytest
from django.http import QueryDict
from django.template.loader import get_template

from intake import forms, question_types
from intake.models import Question, Section, Submission
from intake.question_types import REGISTRY, ConditionType, QuestionType, type_of
from intake.selectors import QuestionSpec, VersionSchema, current_version
from intake.services.answers import AnswersInvalid, clean_answers
from intake.services.publishing import publish_version
from intake.services.questionnaires import create_draft_from
from interop.fhir import mapping
from interop.fhir.responses import ResponseInvalid, read_questionnaire_response
from interop.fhir.selectors import version_with_contents
from screening.conditions import compile_condition, data_type_of
from screening.engine import condition_values
from tests.factories import PATIENT, ROUTINE, about_you, post_submission, send_form

pytestmark = pytest.mark.django_db


def test_every_question_type_has_its_class():
    assert set(REGISTRY) == set(Question.Type.values)
    for code, kind in REGISTRY.items():
        assert kind.code == code
        assert isinstance(kind.condition_type, ConditionType)
        get_template(kind.template)  # raises if the control's template is missing


def test_every_question_type_has_a_type_in_conditions():
    for code in Question.Type.values:
        required = QuestionSpec(pk=1, code="q", text="Q?", type=code, required=True)
        optional = QuestionSpec(pk=1, code="q", text="Q?", type=code, required=False)
        assert data_type_of(required) is not None
        assert data_type_of(optional) is not None


def test_type_of_takes_a_question_a_spec_or_a_code():
    version = current_version()
    question = version.questions.get(code="chest_pain")
    spec = VersionSchema.of(version).questions["chest_pain"]

    assert type_of(question) is type_of(spec) is type_of(Question.Type.BOOLEAN) \
        is type_of("boolean") is REGISTRY["boolean"]


def test_an_unregistered_type_is_refused_with_how_to_add_it():
    with pytest.raises(LookupError, match=r"intake/question_types\.py"):
        type_of("date")
    assert type_of("date", default=question_types.UNTYPED) is question_types.UNTYPED


# --- A new type is one class ---------------------------------------------------------------


class CalendarDate(QuestionType):
    """A type the questionnaire does not have: a date, written YYYY-MM-DD."""

    code = "date"
    label = "date"
    condition_type = ConditionType.TEXT  # in a condition, text: == '2026-01-05', =~ '^2026-'
    template = "intake/controls/text.html"
    fhir_item_type = "date"
    fhir_value = "valueDate"
    fhir_value_type = str

    def clean(self, question, value):
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            return "Send a date as YYYY-MM-DD, e.g. 2026-01-05.", None
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            return f"There is no such day as {value}.", None
        return None, value

    def fits(self, question, value):
        return type(value) is str


@pytest.fixture
def calendar_date(monkeypatch):
    """The date type registered for one test (no migration: the database does not check a
    question's type against Question.Type)."""
    monkeypatch.setitem(REGISTRY, "date", CalendarDate())


@pytest.fixture
def version_with_a_date(calendar_date):
    """Version 3: version 2 with a date question, published, so it is what patients answer."""
    draft = create_draft_from(current_version())
    section = Section.objects.filter(version=draft).order_by("position").first()
    Question.objects.create(version=draft, section=section, code="pain_started_on",
                            text="On what day did the pain start?", type="date", position=999)
    return publish_version(draft)


def test_a_new_type_validates_converts_the_form_and_checks_conditions(version_with_a_date):
    schema = VersionSchema.of(version_with_a_date)

    with pytest.raises(AnswersInvalid) as invalid:
        clean_answers(schema, {**ROUTINE, "pain_started_on": "2026-02-30"})
    assert invalid.value.errors == {"pain_started_on": ["There is no such day as 2026-02-30."]}
    assert clean_answers(schema, {**ROUTINE, "pain_started_on": "2026-01-05"})[
        "pain_started_on"] == "2026-01-05"

    posted = QueryDict(mutable=True)
    posted.update({"pain_started_on": " 2026-01-05 "})
    assert forms.answers_from_form(schema, posted) == {"pain_started_on": "2026-01-05"}

    condition = compile_condition("pain_started_on == '2026-01-05'", schema)
    values = condition_values({**ROUTINE, "pain_started_on": "2026-01-05"}, schema)
    assert condition.matches(values) is True


def test_a_new_type_is_asked_and_submitted_through_the_form_the_api_and_fhir(
    client, version_with_a_date
):
    client.post("/", about_you())
    pages = [client.get(f"/step/{n}/").content.decode() for n in (2,)]
    assert '<textarea id="answer-pain_started_on" name="pain_started_on"' in pages[0]

    response = send_form(client, {**ROUTINE, "pain_started_on": "2026-01-05"})
    assert response.status_code == 302
    by_form = Submission.objects.latest("pk")
    assert by_form.answers["pain_started_on"] == "2026-01-05"

    refused = post_submission(client, {"patient": PATIENT, "version": 3,
                                       "answers": {**ROUTINE, "pain_started_on": "5 Jan"}})
    assert refused.status_code == 400
    assert "YYYY-MM-DD" in refused.content.decode()

    version = version_with_contents(version_with_a_date.pk)
    items = [item for group in mapping.questionnaire(version, current=True)["item"]
             for item in group["item"]]
    assert {"linkId": "pain_started_on", "text": "On what day did the pain start?",
            "type": "date", "required": False} in items
    answered = [item for group in mapping.questionnaire_response(by_form, version)["item"]
                for item in group["item"] if item["linkId"] == "pain_started_on"]
    assert answered[0]["answer"] == [{"valueDate": "2026-01-05"}]


def test_a_new_type_is_read_from_a_fhir_questionnaire_response(version_with_a_date):
    def response(answer: dict) -> dict:
        return {
            "resourceType": "QuestionnaireResponse", "status": "completed",
            "questionnaire": f"{mapping.questionnaire_url('upper-back-pain')}|3",
            "contained": [{"resourceType": "Patient", "id": "patient",
                           "birthDate": PATIENT["date_of_birth"]}],
            "subject": {"reference": "#patient"},
            "item": [{"linkId": "pain_started_on", "answer": [answer]}],
        }

    read = read_questionnaire_response(response({"valueDate": "2026-01-05"}),
                                       version_with_a_date)
    assert read.answers == {"pain_started_on": "2026-01-05"}

    with pytest.raises(ResponseInvalid) as refused:
        read_questionnaire_response(response({"valueString": "2026-01-05"}),
                                    version_with_a_date)
    assert [issue.text for issue in refused.value.issues] == [
        "Question “pain_started_on” is a date question: answer it with valueDate."]

