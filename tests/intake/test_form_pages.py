"""The patient's form at / and the advice page, driven through Django's test client (the browser
tests in tests/browser drive the same pages in Chromium)."""

import re

import pytest

from intake.models import Submission
from tests.factories import PATIENT, ROUTINE, form_data

pytestmark = pytest.mark.django_db


def test_the_form_shows_every_question_with_labels(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "not for emergencies" in html
    assert 'href="tel:999"' in html
    for code in ROUTINE:
        assert f'name="{code}"' in html, code
    assert re.search(r'<input type="hidden" name="form_token" value="[\w-]+">', html)
    assert "Content-Security-Policy" in response.headers


def test_a_routine_submission_shows_the_advice_and_reference(client):
    response = client.post("/", form_data())
    assert response.status_code == 302
    assert response["Location"] == "/advice/"
    submission = Submission.objects.get()
    assert submission.urgency == "routine"
    page = client.get("/advice/").content.decode()
    assert submission.reference in page
    assert "We will see you at your appointment" in page
    assert PATIENT["full_name"] not in page


def test_an_emergency_puts_call_999_first(client):
    client.post("/", form_data({**ROUTINE, "breathing_difficulty": True}))
    page = client.get("/advice/").content.decode()
    main = page[page.index('<main'):]
    assert main.index("Call 999 now.") < main.index("Your reference")
    assert '<a class="call-button" href="tel:999">' in page


def test_no_patient_data_in_urls(client):
    response = client.post("/", form_data())
    assert PATIENT["full_name"].split()[0] not in response["Location"]
    assert Submission.objects.get().reference not in response["Location"]


def test_errors_are_summarised_linked_and_answers_kept(client):
    data = form_data({**ROUTINE, "pain_severity": "eleven"},
                     patient={**PATIENT, "date_of_birth": ""})
    del data["sex"]
    response = client.post("/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "There is a problem with your answers" in html
    assert 'href="#question-pain_severity"' in html
    assert 'href="#question-sex"' in html
    assert 'href="#patient_date_of_birth"' in html
    assert "Enter a whole number between 0 and 10." in html
    assert 'value="eleven"' in html, "the answer is kept"
    assert 'value="Ada Example"' in html
    assert re.search(r'id="answer-chest_pain-false"[^>]*checked', html)
    assert not Submission.objects.exists()


def test_a_double_click_makes_one_submission(client):
    data = form_data()
    assert client.post("/", data).status_code == 302
    assert client.post("/", data).status_code == 302
    assert Submission.objects.count() == 1


def test_the_same_form_sent_again_with_other_answers_is_a_new_screened_submission(client):
    client.post("/", form_data())
    client.post("/", form_data({**ROUTINE, "chest_pain": True}))
    assert sorted(Submission.objects.values_list("urgency", flat=True)) == [
        "emergency", "routine"]


def test_the_advice_page_without_a_submission_goes_back_to_the_form(client):
    response = client.get("/advice/")
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_csrf_is_enforced(client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/", form_data()).status_code == 403
    assert not Submission.objects.exists()


def test_a_form_opened_before_a_new_version_is_shown_again_with_answers_kept(client):
    from intake.models import QuestionnaireVersion
    from intake.services.publishing import publish_version
    from intake.services.questionnaires import create_draft_from

    publish_version(create_draft_from(QuestionnaireVersion.objects.get(number=2)))
    response = client.post("/", form_data())  # the patient saw version 2
    assert response.status_code == 200
    html = response.content.decode()
    assert "We have updated this form since you opened it" in html
    assert 'name="version" value="3"' in html
    assert 'value="Ada Example"' in html
    assert not Submission.objects.exists()
    assert client.post("/", form_data(version="3")).status_code == 302
