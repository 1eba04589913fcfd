"""The form in the patient's language (issue 17): a questionnaire version's texts translated as
data, offered only once signed off as clinically reviewed, then frozen; the same codes, answers
and screening whatever the language; the clinician reads the answers in English with the
language noted; a right-to-left language lays the page out right to left."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from clinic.models import Clinic
from intake.models import Appointment, QuestionnaireTranslation, Submission
from intake.selectors import current_version
from intake.services import translations
from intake.services.appointments import invite
from intake.services.invitations import token_of
from tests.factories import ANSWERS_BY_URGENCY, PATIENT, ROUTINE, about_you, form_data, send_form

pytestmark = pytest.mark.django_db


def translation(language: str, *, prefix: str, signed_off: bool = True, by=None):
    version = current_version()
    # The shipped translation (awaiting review), its texts replaced by recognisable ones.
    made, _ = QuestionnaireTranslation.objects.update_or_create(
        version=version, language=language,
        defaults={"texts": {key: f"{prefix} {text}"
                            for key, text in translations.english_texts(version).items()}})
    if signed_off:
        translations.sign_off(made, by=by)
    return made


def choose(client, language: str):
    return client.post("/language/", {"language": language, "next": "/"})


def test_only_english_is_offered_until_a_translation_is_signed_off(client, admin_user):
    page = client.get("/").content.decode()
    assert 'name="language"' not in page
    waiting = translation("cy", prefix="CY", signed_off=False)
    assert translations.offered_languages(current_version()) == [("en-gb", "English")]
    choose(client, "cy")
    assert "CY " not in client.get("/").content.decode()
    translations.sign_off(waiting, by=admin_user)
    assert [code for code, _ in translations.offered_languages(current_version())] == [
        "en-gb", "cy"]
    assert 'name="language"' in client.get("/").content.decode()


def test_an_incomplete_translation_cannot_be_signed_off(admin_user):
    made = translation("cy", prefix="CY", signed_off=False)
    made.texts.pop("question:chest_pain")
    made.save()
    with pytest.raises(translations.TranslationIncomplete) as refused:
        translations.sign_off(made, by=admin_user)
    assert "question:chest_pain" in refused.value.messages[0]
    made.refresh_from_db()
    assert made.status == QuestionnaireTranslation.Status.AWAITING_REVIEW


def test_a_signed_off_translation_is_frozen(admin_user):
    made = translation("cy", prefix="CY", by=admin_user)
    made.texts["question:chest_pain"] = "changed"
    with pytest.raises(ValidationError, match="cannot be changed"):
        made.save()


def test_the_form_in_welsh_answers_the_same_codes_and_the_clinician_reads_english(
        client, admin_user, clinician_client):
    translation("cy", prefix="CY", by=admin_user)
    choose(client, "cy")
    first = client.get("/").content.decode()
    assert '<html lang="cy" dir="ltr">' in first
    client.post("/", about_you())
    second = client.get("/step/2/").content.decode()
    assert "CY Where is your pain?" in second and "CY Your pain" in second
    urgent = ANSWERS_BY_URGENCY["urgent"]
    response = send_form(client, urgent)
    assert response["Location"] == "/advice/"
    submission = Submission.objects.get()
    assert (submission.language, submission.urgency) == ("cy", "urgent")
    assert submission.answers["pain_location"] == urgent["pain_location"]
    case = clinician_client.get(f"/cases/{submission.reference}/").content.decode()
    assert "answered in Cymraeg (Welsh)" in case
    assert "Where is your pain?" in case and "CY Where is your pain?" not in case


def test_check_your_answers_is_in_the_patients_language(client, admin_user):
    translation("cy", prefix="CY", by=admin_user)
    choose(client, "cy")
    fill = client.post("/", about_you())
    while fill.status_code == 302 and "/step/" in fill["Location"]:
        fill = client.post(fill["Location"], form_data())
    page = client.get("/check/").content.decode()
    assert "CY How bad has the pain been" in page and "CY No" in page


def test_urdu_lays_the_page_out_right_to_left(client, admin_user):
    translation("ur", prefix="UR", by=admin_user)
    choose(client, "ur")
    assert '<html lang="ur" dir="rtl">' in client.get("/").content.decode()


def test_a_language_not_offered_is_not_taken(client):
    choose(client, "fr")
    assert '<html lang="en-GB" dir="ltr">' in client.get("/").content.decode()
    assert choose(client, "cy")["Location"] == "/"
    assert client.post("/language/", {"language": "cy", "next": "https://evil.example/"}
                       )["Location"] == "/"


def test_welsh_and_urdu_ship_complete_and_awaiting_review():
    shipped = QuestionnaireTranslation.objects.filter(version=current_version())
    assert sorted(shipped.values_list("language", "status")) == [
        ("cy", "awaiting_review"), ("ur", "awaiting_review")]
    english = translations.english_texts(current_version())
    for made in shipped:
        assert all(made.texts.get(key, "").strip() for key in english), made.language
        assert made.texts["question:chest_pain"] != english["question:chest_pain"]


def test_an_admin_translates_a_version_text_by_text(admin_client, django_user_model):
    version = current_version()
    QuestionnaireTranslation.objects.filter(language="cy").delete()
    response = admin_client.post("/admin/intake/questionnairetranslation/add/",
                                 {"version": version.pk, "language": "cy"})
    assert response.status_code == 302
    made = QuestionnaireTranslation.objects.get(language="cy")
    page = admin_client.get(f"/admin/intake/questionnairetranslation/{made.pk}/change/")
    html = page.content.decode()
    assert "English: Where is your pain?" in html
    data = {f"text__{key}": f"CY {text}"
            for key, text in translations.english_texts(version).items()}
    saved = admin_client.post(f"/admin/intake/questionnairetranslation/{made.pk}/change/", data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    made.refresh_from_db()
    assert made.texts["question:pain_location"] == "CY Where is your pain?"
    # Signing off needs its own permission.
    manager = django_user_model.objects.create_user("translator", is_staff=True)
    manager.user_permissions.set(Permission.objects.filter(
        codename__in=["view_questionnairetranslation", "change_questionnairetranslation"]))
    other = Client()
    other.force_login(manager)
    other.post("/admin/intake/questionnairetranslation/", {
        "action": "sign_off", "_selected_action": [made.pk]})
    made.refresh_from_db()
    assert made.status == QuestionnaireTranslation.Status.AWAITING_REVIEW
    admin_client.post("/admin/intake/questionnairetranslation/", {
        "action": "sign_off", "_selected_action": [made.pk]})
    made.refresh_from_db()
    assert made.status == QuestionnaireTranslation.Status.SIGNED_OFF
    assert admin_client.get(f"/admin/intake/questionnairetranslation/{made.pk}/change/"
                            ).status_code == 200


def test_the_sites_own_words_are_in_the_patients_language(client, admin_user):
    translation("cy", prefix="CY", by=admin_user)
    choose(client, "cy")
    first = client.get("/").content.decode()
    assert "Cam 1 o 4" in first and "Amdanoch chi" in first and ">Parhau<" in first
    assert "Nid yw'r ffurflen hon ar gyfer argyfyngau." in first
    missing_month = client.post("/", {**about_you(), "dob_month": ""}).content.decode()
    assert "Rhaid i&#x27;ch dyddiad geni gynnwys mis" in missing_month
    # Clinicians' pages stay in English.
    assert "Sign in" in Client().get("/accounts/login/").content.decode()


def test_the_advice_and_what_happens_next_are_in_the_patients_language(client, admin_user):
    translation("cy", prefix="CY", by=admin_user)
    choose(client, "cy")
    send_form(client)
    advice = client.get("/advice/").content.decode()
    assert "Diolch. Byddwn yn eich gweld yn eich apwyntiad." in advice
    assert "Beth sy'n digwydd nesaf" in advice and '<html lang="cy" dir="ltr">' in advice
    # The same intake through the API is answered in English.
    api = Client().post("/api/submissions/", data={"patient": PATIENT, "answers": ROUTINE},
                        content_type="application/json")
    assert api.json()["advice"].startswith("Thank you. We will see you at your appointment.")


def test_the_copy_of_the_answers_is_in_the_patients_language(client, admin_user):
    translation("cy", prefix="CY", by=admin_user)
    choose(client, "cy")
    send_form(client)
    copy = client.get("/advice/answers/").content.decode()
    assert "Eich atebion" in copy and "CY Where is your pain?" in copy


def test_an_invitation_resumes_on_another_device_after_the_date_of_birth(db):
    appointment = Appointment.objects.create(
        clinic=Clinic.objects.get(is_default=True),
        starts_at=timezone.now() + datetime.timedelta(days=2), full_name="Ada Example",
        date_of_birth=datetime.date(1971, 3, 2), phone="07700 900123")
    link = f"/i/{token_of(invite(appointment))}/"
    dob = {"dob_day": "2", "dob_month": "3", "dob_year": "1971"}
    phone = Client()
    phone.post(link, dob)
    phone.post("/invitation/", about_you())
    phone.post("/invitation/step/2/", form_data({**ROUTINE, "pain_severity": 6}))
    laptop = Client()
    laptop.post(link, dob)
    assert laptop.get("/invitation/step/4/")["Location"] == "/invitation/step/3/"
    page = laptop.get("/invitation/step/2/").content.decode()
    assert 'value="6"' in page
