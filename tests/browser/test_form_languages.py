"""The whole form in Welsh and in Urdu (right to left), on a phone and a desktop, checked by
axe-core at every step, and on a phone without JavaScript (axe-core is JavaScript: without it
the pages are the same, not checked again), once a translation of the questionnaire has been
signed off (issue 17)."""

import pytest
from playwright.sync_api import expect

from intake.models import QuestionnaireTranslation, Submission
from intake.selectors import current_version
from intake.services import translations
from tests.browser.pages import (
    DESKTOP,
    PHONE,
    assert_accessible,
    fill_answers,
    fill_patient,
    scroll_width,
)
from tests.factories import COMMITTED, ROUTINE

pytestmark = [pytest.mark.e2e, COMMITTED]

# The site's own words come from locale/<language>/LC_MESSAGES/django.po.
CONTINUE = {"cy": "Parhau", "ur": "جاری رکھیں"}


def press(page, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).click()


@pytest.mark.parametrize(("language", "direction", "prefix"), [
    ("cy", "ltr", "Cymraeg:"), ("ur", "rtl", "اردو:"),
], ids=["welsh", "urdu"])
@pytest.mark.parametrize(("viewport", "javascript"), [
    (PHONE, True), (DESKTOP, True), (PHONE, False),
], ids=["phone", "desktop", "phone-without-javascript"])
def test_a_whole_form_in_another_language(open_page, admin_user, language, direction, prefix,
                                          viewport, javascript):
    version = current_version()
    made, _ = QuestionnaireTranslation.objects.update_or_create(
        version=version, language=language,
        defaults={"texts": {key: f"{prefix} {text}"
                            for key, text in translations.english_texts(version).items()}})
    translations.sign_off(made, by=admin_user)

    page = open_page("/", viewport=viewport, javascript=javascript)

    def check(page) -> None:
        if javascript:
            assert_accessible(page)

    page.get_by_label("Language / Iaith / زبان").select_option(language)
    with page.expect_navigation():
        page.locator(".language-choice button").click()
    expect(page.locator("html")).to_have_attribute("dir", direction)
    expect(page.locator("html")).to_have_attribute("lang", language)
    check(page)
    expect(page.locator("#continue")).to_have_text(CONTINUE[language])
    fill_patient(page)
    press(page, "#continue")
    while page.locator("#continue").count():
        expect(page.locator("h1")).to_contain_text(prefix)
        check(page)
        assert scroll_width(page) <= viewport["width"]
        fill_answers(page, ROUTINE)
        press(page, "#continue")
    expect(page.locator("main")).to_contain_text(f"{prefix} Where is your pain?")
    check(page)
    press(page, "#send-answers")
    check(page)
    submission = Submission.objects.get()
    assert (submission.language, submission.urgency) == (language, "routine")
