"""The admin as a practice manager uses it (issue 18), in Chromium on a 1,280 px desktop and a
768 px tablet: reword a question and publish, add a choice without typing a code, build a rule
without typing an expression, dry-run and activate it, cover one date on the rota, and read a
change's before and after.  On every page: no serious axe-core violation, no sideways
scrolling, and (the conftest) no console error, failed request or CSP violation.

The practice manager is staff in the "Practice managers" group, not a superuser; for the
activation they also hold the clinical safety officer's permission, as a manager who is the
practice's safety officer would."""


import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from clinic.models import AuditEvent, Clinic, Clinician, DutyCover
from core.roles import PRACTICE_MANAGERS_GROUP
from intake.models import Choice, QuestionnaireVersion
from intake.services.questionnaires import create_draft_from
from screening import rule_builder, services
from screening.models import Rule, RuleSet
from tests.browser.pages import DESKTOP, SERIOUS, axe_violations

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

TABLET = {"width": 768, "height": 1024}
SCREENS = pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["desktop", "tablet"])
PASSWORD = "practice-manager-password"


@pytest.fixture
def manager(django_user_model):
    user = django_user_model.objects.create_user(
        username="manager", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=PRACTICE_MANAGERS_GROUP))
    return user


@pytest.fixture
def draft():
    current = QuestionnaireVersion.objects.get(questionnaire__slug="upper-back-pain", number=2)
    return create_draft_from(current)


def sign_in(open_page, path: str, viewport: dict):
    page = open_page(f"/admin/login/?next={path}", viewport=viewport)
    page.fill("#id_username", "manager")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.locator("input[type=submit]").click()
    return page


# axe-core reads each style sheet's @import (Django's admin CSS has them) by putting it back
# into the page as a <style> element, which the Content-Security-Policy refuses: the page is
# checked with the styles the browser applied, without that preloading.
AXE_OPTIONS = {"preload": False, "resultTypes": ["violations"]}


def check_page(page) -> None:
    """Readable at this width without sideways scrolling, and accessible."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url
    violations = axe_violations(page, SERIOUS, AXE_OPTIONS)
    assert not violations, f"axe-core on {page.url}:\n" + "\n".join(violations)


def save(page, name: str = "Save") -> None:
    with page.expect_navigation():
        page.locator(f"input[type=submit][value='{name}']").first.click()


@SCREENS
def test_reword_a_question_and_publish(open_page, manager, draft, viewport):
    page = sign_in(open_page, f"/admin/intake/questionnaireversion/{draft.pk}/change/", viewport)
    check_page(page)
    card = page.locator("#questions-group .inline-related").filter(
        has=page.locator("textarea", has_text="chest"))
    text = card.locator("textarea.question-text").first
    text.fill("Do you have any chest pain or tightness now?")
    # The preview beside the cards follows what is typed.
    expect(page.locator("[data-question-preview]")).to_contain_text(
        "Do you have any chest pain or tightness now?")
    save(page, "Save and continue editing")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    # check_page reads the page at once: the confirmation page must have arrived first.
    with page.expect_navigation():
        page.get_by_role("link", name="Publish…").click()
    check_page(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, publish it").click()
    expect(page.locator(".messagelist")).to_contain_text("Published version 3")
    draft.refresh_from_db()
    assert draft.is_published
    assert draft.questions.filter(text="Do you have any chest pain or tightness now?").exists()
    # Published: nothing on the page can be changed, the codes included.
    assert page.locator("#questions-group textarea, #questions-group input[name$='-code']"
                        ).count() == 0
    check_page(page)


@SCREENS
def test_add_a_choice_without_typing_a_code(open_page, manager, draft, viewport):
    question = draft.questions.get(code="pain_location")
    page = sign_in(open_page, f"/admin/intake/question/{question.pk}/change/", viewport)
    check_page(page)
    page.locator("#choices-group .add-row a").click()
    row = page.locator("#choices-group tr.dynamic-choices").last
    row.locator("input[name$='-label']").fill("Lower back (the small of the back)")
    save(page)
    assert Choice.objects.filter(question=question, value="lower_back_the_small_of_the_back"
                                 ).exists()


@SCREENS
def test_add_a_choice_inside_the_questions_card_without_typing_a_value(
    open_page, manager, draft, viewport
):
    question = draft.questions.get(code="pain_location")
    neck = question.choices.get(value="neck")
    last = question.choices.order_by("position", "pk").last()
    page = sign_in(open_page, f"/admin/intake/questionnaireversion/{draft.pk}/change/", viewport)
    card = page.locator("#questions-group .inline-related").filter(
        has=page.locator("input[name$='-code'][value='pain_location']"))
    preview = page.locator("[data-question-preview] .preview-question").filter(
        has=page.locator(".preview-text", has_text=question.text))
    card.get_by_role("button", name="Add a choice").click()
    row = card.locator(".card-choice").last
    # Nothing to type but what the patient reads: the value is made from it on save.
    expect(row.locator("input[name$='-value']")).to_have_count(0)
    row.locator("input.choice-label").fill("Lower back (the small of the back)")
    # The preview follows the unsaved choices: added, reworded, moved, removed.
    expect(preview).to_contain_text("Lower back (the small of the back)")
    card.locator(".card-choice").first.locator("input.choice-label").fill("The upper back")
    expect(preview).to_contain_text("The upper back")
    row.get_by_role("button", name="Move up").click()
    expect(preview.locator("li").last).to_have_text(last.label)
    card.locator(".card-choice").filter(
        has=page.locator(f"input[value='{neck.pk}']")).get_by_label("Remove").check()
    expect(preview).not_to_contain_text(neck.label)
    check_page(page)
    save(page, "Save and continue editing")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    added = question.choices.get(label="Lower back (the small of the back)")
    assert added.value == "lower_back_the_small_of_the_back"
    assert list(question.choices.order_by("position", "pk"))[-2:] == [added, last]
    assert question.choices.order_by("position", "pk").first().label == "The upper back"
    assert not question.choices.filter(pk=neck.pk).exists()
    # After the save the value is shown on the card, and still cannot be typed.
    card = page.locator("#questions-group .inline-related").filter(
        has=page.locator("input[name$='-code'][value='pain_location']"))
    expect(card).to_contain_text("value: lower_back_the_small_of_the_back")
    check_page(page)

    # A new choice question, written with its choices in one go.
    page.locator("#questions-group .add-row a").click()
    new_card = page.locator("#questions-group .inline-related.dynamic-questions").last
    new_card.locator("select[name$='-section']").select_option(index=1)
    new_card.locator("textarea.question-text").fill("How do you sleep?")
    new_card.locator("select[name$='-type']").select_option("single_choice")
    new_card.get_by_role("button", name="Add a choice").click()
    for number, label in enumerate(["Well", "Badly", "Not at all"]):
        new_card.locator("input.choice-label").nth(number).fill(label)
    new_preview = page.locator("[data-question-preview] .preview-question").filter(
        has=page.locator(".preview-text", has_text="How do you sleep?"))
    expect(new_preview.locator("li")).to_have_text(["Well", "Badly", "Not at all"])
    save(page, "Save and continue editing")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    sleep = draft.questions.get(code="how_do_you_sleep")
    assert list(sleep.choices.order_by("position", "pk").values_list("value", flat=True)) == [
        "well", "badly", "not_at_all"]


@SCREENS
def test_build_a_rule_dry_run_and_activate_it(open_page, manager, viewport):
    manager.user_permissions.add(Permission.objects.get(codename="activate_ruleset"))
    rule_set = services.create_draft_from(RuleSet.objects.get(status=RuleSet.Status.ACTIVE),
                                          by=manager)
    page = sign_in(open_page, f"/admin/screening/ruleset/{rule_set.pk}/change/", viewport)
    page.get_by_role("link", name="Add a rule").click()
    page.fill("#id_code", "chest_pain_very_old")
    page.fill("#id_title", "Chest pain at 105 or over")
    page.select_option("#id_category", "possible_cardiac")
    page.select_option("#id_tier", "urgent")
    builder = page.locator(".rule-builder")
    builder.locator("select.builder-question").first.select_option("chest_pain")
    builder.get_by_role("button", name="Add a condition").click()
    builder.locator("select.builder-question").nth(1).select_option("age")
    builder.get_by_label("Compare").nth(1).select_option(">=")
    builder.get_by_label("Number").fill("105")
    expression = page.locator("#id_condition")
    expect(expression).to_have_value("chest_pain and age >= 105")
    expect(expression).to_have_attribute("readonly", "")
    page.fill("#id_explanation", "Chest pain in the very old.")
    check_page(page)
    save(page)
    expect(page.locator(".messagelist")).to_contain_text("Added the rule")
    assert Rule.objects.get(rule_set=rule_set, code="chest_pain_very_old").condition == \
        "chest_pain and age >= 105"

    page.get_by_role("link", name="Dry run").click()
    expect(page.locator(".dry-run-summary")).to_contain_text("recent submission")
    check_page(page)
    page.goto(f"/admin/screening/ruleset/{rule_set.pk}/activate/")
    page.fill("#id_reason", "A new urgent rule for chest pain in the very old; cases pass.")
    if page.locator("#id_acknowledge_warnings").count():
        page.check("#id_acknowledge_warnings")
    check_page(page)
    with page.expect_navigation():
        page.locator("input[type=submit]").click()
    expect(page.locator(".messagelist")).to_contain_text("is now active")
    rule_set.refresh_from_db()
    assert rule_set.status == RuleSet.Status.ACTIVE


@SCREENS
def test_edit_a_rule_written_as_an_expression_in_the_builder(open_page, manager, viewport):
    rule_set = services.create_draft_from(RuleSet.objects.get(status=RuleSet.Status.ACTIVE),
                                          by=manager)
    rule = rule_set.rules.get(code="cardiac_unstable_pattern")
    assert rule.condition == "pain_walking_or_stairs and (pain_worsening or pain_at_rest_or_night)"
    page = sign_in(open_page, f"/admin/screening/rule/{rule.pk}/change/", viewport)
    builder = page.locator(".rule-builder")
    expression = page.locator("#id_condition")
    # Read back into the builder: two groups, the second "any of" two conditions; the
    # expression is kept as it was written until something is changed.
    groups = builder.locator("fieldset")
    expect(groups).to_have_count(2)
    expect(groups.nth(0).locator("select.builder-question")).to_have_value(
        "pain_walking_or_stairs")
    expect(groups.nth(1).get_by_label("Fires when")).to_have_value("any")
    expect(groups.nth(1).locator("select.builder-question")).to_have_count(2)
    expect(groups.nth(1).locator("select.builder-question").nth(1)).to_have_value(
        "pain_at_rest_or_night")
    expect(expression).to_have_value(rule.condition)
    expect(expression).to_have_attribute("readonly", "")
    check_page(page)
    groups.nth(1).get_by_role("button", name="Add a condition").click()
    groups.nth(1).locator("select.builder-question").nth(2).select_option("pain_severity")
    groups.nth(1).get_by_label("Compare").nth(2).select_option(">=")
    groups.nth(1).get_by_label("Number").fill("8")
    changed = ("pain_walking_or_stairs and (pain_worsening or pain_at_rest_or_night or "
               "pain_severity >= 8)")
    expect(expression).to_have_value(changed)
    check_page(page)
    save(page)
    expect(page.locator(".messagelist")).to_contain_text("Saved the rule")
    rule.refresh_from_db()
    assert rule.condition == changed

    # A rule the builder cannot show stays as written, read-only, with the reason.
    other = rule_set.rules.get(code="cardiac_feature")
    page.goto(f"/admin/screening/rule/{other.pk}/change/")
    note = page.locator(".rule-builder-unreadable")
    expect(note).to_contain_text("“not” before a group of conditions")
    expect(page.locator(".rule-builder")).to_have_count(0)
    expect(page.locator("#id_condition")).to_have_attribute("readonly", "")
    check_page(page)
    note.get_by_role("button", name="Edit the expression by hand").click()
    expect(page.locator("#id_condition")).not_to_have_attribute("readonly", "")


def test_the_builder_writes_back_every_rule_it_shows(open_page, manager):
    """On the draft rule set's page every rule the server reads is shown in a builder; made to
    write, each builder gives the expression ``screening.rule_builder`` writes: the page and
    the server share one grammar."""
    rule_set = services.create_draft_from(RuleSet.objects.get(status=RuleSet.Status.ACTIVE),
                                          by=manager)
    vocabulary = services.rule_vocabulary(rule_set)
    expected = {}
    for rule in rule_set.rules.all():
        reading = rule_builder.read_condition(rule.condition, vocabulary)
        expected[rule.code] = (rule_builder.write_condition(reading["built"], vocabulary)
                               if "built" in reading else rule.condition)
    page = sign_in(open_page, f"/admin/screening/ruleset/{rule_set.pk}/change/", DESKTOP)
    expect(page.locator(".rule-builder")).to_have_count(57)
    expect(page.locator(".rule-builder-unreadable")).to_have_count(6)
    # Choosing again what each group already matches makes every builder write.
    page.evaluate("""() => document.querySelectorAll('.rule-builder fieldset > label > select')
        .forEach((s) => s.dispatchEvent(new Event('change', {bubbles: true})))""")
    written = page.evaluate("""() => Object.fromEntries(Array.from(
        document.querySelectorAll('textarea.rule-expression'))
        .filter((t) => !t.name.includes('__prefix__'))
        .map((t) => [document.getElementById(t.id.replace('-condition', '-code')).value,
                     t.value]))""")
    assert written == expected


@SCREENS
def test_cover_one_date_on_the_rota(open_page, manager, viewport):
    clinic = Clinic.objects.get(is_default=True)
    covering = Clinician.objects.create(name="Dr Cover", email="cover@example.org")
    page = sign_in(open_page, f"/admin/clinic/clinic/{clinic.pk}/rota/?week=2026-12-07",
                   viewport)
    check_page(page)
    page.get_by_role("link", name="Cover 9 Dec").click()
    expect(page.locator("#id_first_day")).to_have_value("2026-12-09")
    page.select_option("#id_clinic", str(clinic.pk))
    page.select_option("#id_clinician", str(covering.pk))
    check_page(page)
    save(page)
    expect(page.locator(".messagelist")).to_contain_text("Dr Cover covers on Wednesday 09")
    expect(page.locator("#content-main")).to_contain_text("Dr Cover instead of everyone")
    assert DutyCover.objects.filter(clinician=covering, first_day="2026-12-09").exists()
    check_page(page)


@SCREENS
def test_read_a_changes_before_and_after(open_page, manager, draft, viewport):
    question = draft.questions.get(code="chest_pain")
    before = question.text
    page = sign_in(open_page, f"/admin/intake/question/{question.pk}/change/", viewport)
    page.fill("#id_text", "Any chest pain?")
    save(page)
    event = AuditEvent.objects.filter(action="admin_change").first()
    page.goto("/admin/clinic/auditevent/")
    check_page(page)
    page.locator(f"a[href$='/admin/clinic/auditevent/{event.pk}/change/']").first.click()
    table = page.locator("table.audit-diff")
    expect(table.locator(".audit-before")).to_have_text(before)
    expect(table.locator(".audit-after")).to_have_text("Any chest pain?")
    check_page(page)
    page.get_by_role("link", name="Open it").click()
    expect(page.locator("#id_text")).to_have_value("Any chest pain?")
