"""The patient's form a page at a time, "check your answers" and the advice page, driven through
Django's test client as a browser without JavaScript drives them (the browser tests in
tests/browser drive the same pages in Chromium)."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from intake.models import FormDraft, QuestionnaireVersion, Submission
from intake.services import drafts
from intake.services.publishing import publish_version
from intake.services.questionnaires import create_draft_from
from tests.factories import PATIENT, ROUTINE, about_you, fill_form, form_data, send_form

pytestmark = pytest.mark.django_db

STEPS = ["/", "/step/2/", "/step/3/", "/step/4/"]


def error_summary(html: str) -> list[tuple[str, str]]:
    summary = html[html.index('id="error-summary"'):html.index("</div>",
                                                                html.index('id="error-summary"'))]
    return re.findall(r'<a href="([^"]+)">([^<]+)</a>', summary)


def test_each_page_asks_its_section_with_the_step_and_the_emergency_notice(client):
    first = client.get("/")
    assert first.status_code == 200
    html = first.content.decode()
    assert "Step 1 of 4" in html and "About you" in html
    assert all(f'name="{name}"' in html for name in ("dob_day", "dob_month", "dob_year"))
    assert "not for emergencies" in html and 'href="tel:999"' in html
    assert "Content-Security-Policy" in first.headers
    client.post("/", about_you())
    shown = set()
    for number, path in enumerate(STEPS[1:], start=2):
        page = client.get(path).content.decode()
        assert f"Step {number} of 4" in page and 'href="tel:999"' in page
        codes = set(re.findall(r'name="([a-z_]+)"', page)) & set(ROUTINE)
        assert codes and not codes & shown, "each question is on one page"
        shown |= codes
        client.post(path, form_data())
    assert shown == set(ROUTINE)


def test_a_routine_form_sent_shows_the_advice_what_happens_next_and_the_reference(client):
    response = send_form(client)
    assert response.status_code == 302 and response["Location"] == "/advice/"
    submission = Submission.objects.get()
    assert submission.urgency == "routine" and submission.full_name == PATIENT["full_name"]
    page = client.get("/advice/").content.decode()
    assert submission.reference in page
    assert "We will see you at your appointment" in page
    assert "What happens next" in page and "If it gets worse" in page
    assert PATIENT["full_name"] not in page
    assert not FormDraft.objects.exists(), "the draft goes once the form is sent"


def test_an_emergency_puts_call_999_first(client):
    send_form(client, {**ROUTINE, "breathing_difficulty": True})
    page = client.get("/advice/").content.decode()
    main = page[page.index('<main'):]
    assert main.index("Call 999 now.") < main.index("What happens next")
    assert '<a class="call-button" href="tel:999">' in page


def test_no_patient_data_in_urls(client):
    locations = []
    response = client.post("/", about_you())
    while response.status_code == 302:
        locations.append(response["Location"])
        response = client.post(response["Location"], form_data())
    assert locations[-1] == "/advice/"
    reference = Submission.objects.get().reference
    for location in locations:
        assert PATIENT["full_name"].split()[0] not in location and reference not in location


def test_each_page_shows_only_its_own_problems_in_the_patients_words(client):
    response = client.post("/", {**about_you(), "dob_month": ""})
    html = response.content.decode()
    assert response.status_code == 200
    assert error_summary(html) == [("#dob_day", "Your date of birth must include a month")]
    assert 'value="Ada Example"' in html, "what was typed is kept"
    client.post("/", about_you())
    page = client.post("/step/2/", form_data({**ROUTINE, "pain_severity": "eleven",
                                               "pain_radiates_to": ["none", "jaw"]}))
    problems = error_summary(page.content.decode())
    assert problems == [
        ("#question-pain_severity", "Enter a whole number from 0 to 10 for “How bad has the "
                                    "pain been at its worst in the last 24 hours?”"),
        ("#question-pain_radiates_to", "Select “No, it does not spread” on its own, or "
                                       "untick it and keep your other answers")]
    assert "'none'" not in page.content.decode() and "“none”" not in page.content.decode()
    assert 'value="eleven"' in page.content.decode()
    empty = client.post("/step/2/", {}).content.decode()
    assert "Select all that apply for “Where is your pain?”" in empty
    assert len({message for _, message in error_summary(empty)}) == len(
        error_summary(empty)), "every message names its question"
    assert not Submission.objects.exists()


def test_yes_no_questions_ask_in_govuk_words(client):
    fill_form(client)
    page = client.post("/step/3/", form_data({k: v for k, v in ROUTINE.items()
                                              if k != "chest_pain"})).content.decode()
    assert ("#question-chest_pain", "Select yes if you have pain, pressure, tightness or "
            "discomfort in your chest") in error_summary(page)


def test_back_keeps_the_answers_and_pages_cannot_be_skipped(client):
    assert client.get("/step/3/")["Location"] == "/"
    client.post("/", about_you())
    assert client.get("/step/4/")["Location"] == "/step/2/"
    client.post("/step/2/", form_data({**ROUTINE, "pain_severity": 7}))
    back = client.get("/step/2/").content.decode()
    assert re.search(r'id="answer-pain_severity"[^>]*value="7"', back)
    assert 'value="Ada Example"' in client.get("/").content.decode()


def test_the_form_resumes_on_the_same_device(client):
    fill_form(client)
    FormDraft.objects.update(pages_done=2)  # stopped after the first section
    assert client.get("/step/4/")["Location"] == "/step/3/"
    # Another browser starts afresh.
    assert 'value="Ada Example"' not in Client().get("/").content.decode()


def test_check_your_answers_shows_labels_and_change_links_that_come_back(client):
    response = fill_form(client)
    assert response["Location"] == "/check/"
    page = client.get("/check/").content.decode()
    assert "Check your answers before sending them" in page
    assert "2 March 1971" in page
    assert "Upper back (between the shoulder blades)" in page or "Where is your pain?" in page
    assert 'href="/step/2/?change=1#question-pain_severity"' in page
    changed = client.post("/step/2/", form_data({**ROUTINE, "pain_severity": 8}, change="1"))
    assert changed["Location"] == "/check/"
    assert client.post("/check/")["Location"] == "/advice/"
    assert Submission.objects.get().answers["pain_severity"] == 8


def test_a_double_click_on_send_makes_one_submission(client):
    check = fill_form(client)["Location"]
    assert client.post(check)["Location"] == "/advice/"
    assert client.post(check)["Location"] == "/advice/"
    assert Submission.objects.count() == 1


def test_a_second_form_after_sending_is_a_new_screened_submission(client):
    send_form(client)
    send_form(client, {**ROUTINE, "chest_pain": True})
    assert sorted(Submission.objects.values_list("urgency", flat=True)) == [
        "emergency", "routine"]


def test_the_advice_page_without_a_submission_goes_back_to_the_form(client):
    response = client.get("/advice/")
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_csrf_is_enforced(client):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/", about_you()).status_code == 403
    assert not FormDraft.objects.exists()


def test_a_new_version_published_meanwhile_keeps_the_answers(client):
    fill_form(client)
    publish_version(create_draft_from(QuestionnaireVersion.objects.get(number=2)))
    first = client.get("/").content.decode()
    assert "We have updated this form since you started it" in first
    assert 'value="Ada Example"' in first
    response = send_form(client)
    assert response["Location"] == "/advice/"
    assert Submission.objects.get().questionnaire_version.number == 3


def test_the_copy_of_the_answers_prints_with_labels(client):
    send_form(client)
    page = client.get("/advice/answers/").content.decode()
    assert "Your answers" in page and Submission.objects.get().reference in page
    assert "How bad has the pain been" in page and PATIENT["full_name"] in page
    assert Client().get("/advice/answers/")["Location"] == "/"


def test_an_emailed_copy_is_a_link_that_needs_the_date_of_birth(client, settings):
    settings.SITE_URL = "https://clinic.test"
    send_form(client)
    bad = client.post("/advice/", {"email": "not an email"})
    assert "Enter an email address in the correct format" in bad.content.decode()
    client.post("/advice/", {"email": "ada@example.org"})
    [email] = mail.outbox
    assert "How bad" not in email.body and PATIENT["full_name"] not in email.body
    link = re.search(r"https://clinic\.test(/copy/\S+/)", email.body).group(1)
    other = Client()
    assert "Ada" not in other.get(link).content.decode()
    wrong = other.post(link, {"dob_day": "3", "dob_month": "3", "dob_year": "1971"})
    assert "does not match" in wrong.content.decode()
    right = other.post(link, {"dob_day": "2", "dob_month": "3", "dob_year": "1971"})
    assert "How bad has the pain been" in right.content.decode()
    assert other.get(link[:-5] + "xxxx/").status_code == 410


def test_expired_drafts_are_deleted_by_the_daily_retention(client):
    fill_form(client)
    assert drafts.delete_expired() == 0
    FormDraft.objects.update(expires_at=timezone.now())
    assert drafts.delete_expired() == 1
    assert client.get("/step/2/")["Location"] == "/", "an expired draft starts afresh"
