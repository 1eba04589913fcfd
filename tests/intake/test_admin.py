"""The questionnaire admin, as an admin who is not a programmer uses it.

Pages are driven through Django's test client logged in as ``admin_user`` (pytest-django's
superuser, via ``admin_client``); forms are posted back exactly as the page rendered them, with
the changes an admin would make.
"""

import datetime
import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.forms import BooleanField
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from clinic.models import Clinic
from intake.admin import _version_for_display
from intake.models import (
    Appointment,
    Choice,
    Question,
    Questionnaire,
    QuestionnaireTranslation,
    QuestionnaireVersion,
    Section,
)
from intake.services.appointments import invite
from tests.factories import version_shape

pytestmark = pytest.mark.django_db


# --- Fixtures and helpers --------------------------------------------------------------------


def url(name, *args):
    return reverse(f"admin:{name}", args=args)


def version_url(version, page="change"):
    return url(f"intake_questionnaireversion_{page}", version.pk)


def question_url(question):
    return url("intake_question_change", question.pk)


def form_data(response) -> dict:
    """What the change page's form would post back untouched: the main form, and each inline
    formset with its management form and every row."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms.append(inline.formset.management_form)
        forms.extend(inline.formset.forms)
    data = {}
    for form in forms:
        for field in form:
            value = field.value()
            if isinstance(field.field, BooleanField):
                if value:
                    data[field.html_name] = "on"
            else:
                data[field.html_name] = "" if value is None else value
    return data


def inline_prefix(response, model) -> str:
    for inline in response.context["inline_admin_formsets"]:
        if inline.formset.model is model:
            return inline.formset.prefix
    raise AssertionError(f"no {model.__name__} inline on the page")


def row_index(data, prefix, **match) -> int:
    """The index of the inline row whose posted values match ``match``."""
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    for index in range(total):
        if all(str(data.get(f"{prefix}-{index}-{k}")) == str(v) for k, v in match.items()):
            return index
    raise AssertionError(f"no {prefix} row with {match}")


def inline_form(admin_client, page: str, model) -> tuple[dict, str]:
    """What the change page at ``page`` would post back untouched, and the form prefix of its
    inline of ``model``."""
    response = admin_client.get(page)
    return form_data(response), inline_prefix(response, model)


def add_row(data, prefix, **values) -> int:
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
    for name, value in values.items():
        data[f"{prefix}-{index}-{name}"] = value
    return index


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def editable_controls(html: str) -> list[str]:
    """Every form control a person could change (hidden inputs are not)."""
    controls = re.findall(r"<(?:input|select|textarea|button)\b[^>]*>", html)
    return [
        control for control in controls
        if 'type="hidden"' not in control
        # The admin's own header: "Log out" is a button in a form, and the theme toggle.
        and "logout" not in control and "theme-toggle" not in control
    ]


def change_page_form(html: str) -> str:
    """The part of a change page inside its main form."""
    start = re.search(r'<form [^>]*id="\w+_form"', html).start()
    return html[start:html.index("</form>", start)]


def assert_view_only(response):
    html = response.content.decode()
    assert editable_controls(change_page_form(html)) == []
    assert 'name="_save"' not in html
    for inline in response.context["inline_admin_formsets"]:
        assert not inline.has_add_permission
        assert not inline.has_change_permission
        assert not inline.has_delete_permission
        assert "sortable" not in inline.classes, "no drag handles"


@pytest.fixture
def questionnaire_viewer_client(client, django_user_model):
    """A staff member who may look at questionnaires but not change them."""
    viewer = django_user_model.objects.create_user(
        username="questionnaire-viewer", password="viewer-password", is_staff=True
    )
    viewer.user_permissions.set(Permission.objects.filter(
        content_type__app_label="intake", codename__startswith="view_"
    ))
    client.force_login(viewer)
    return client


# --- Every page renders ----------------------------------------------------------------------


REGISTERED = [
    model for model in admin.site._registry if model._meta.app_label == "intake"
]


def an_object_of(model, current, draft):
    if model is QuestionnaireTranslation:
        return QuestionnaireTranslation.objects.get(version=current, language="cy")  # shipped
    if model is Appointment:
        return invite(Appointment.objects.create(
            clinic=Clinic.objects.get(is_default=True), starts_at=timezone.now(),
            full_name="Ada Example", date_of_birth=datetime.date(1971, 3, 2))).appointment
    return {
        Questionnaire: current.questionnaire,
        QuestionnaireVersion: draft,
        Question: draft.questions.get(code="pain_onset"),
    }.get(model) or model.objects.first()


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_every_admin_page_renders(admin_client, model, current, draft):
    opts = model._meta
    obj = an_object_of(model, current, draft)
    assert obj is not None, f"no {opts.label} to open"
    for page in (
        url(f"{opts.app_label}_{opts.model_name}_changelist"),
        url(f"{opts.app_label}_{opts.model_name}_add"),
        url(f"{opts.app_label}_{opts.model_name}_change", obj.pk),
    ):
        response = admin_client.get(page)
        assert response.status_code == 200, page


def test_published_version_pages_render(admin_client, current):
    question = current.questions.get(code="pain_onset")
    for page in (version_url(current), question_url(question),
                 version_url(current, "preview")):
        assert admin_client.get(page).status_code == 200, page


def test_questionnaire_page_lists_its_versions_with_links(admin_client, current, draft):
    response = admin_client.get(url("intake_questionnaire_change", current.questionnaire.pk))
    html = response.content.decode()
    assert f'href="{version_url(current)}"' in html
    assert f'href="{version_url(draft)}"' in html


def test_version_page_offers_preview_publish_and_new_draft(admin_client, draft):
    html = admin_client.get(version_url(draft)).content.decode()
    assert f'href="{version_url(draft, "preview")}"' in html
    assert f'href="{version_url(draft, "publish")}"' in html
    assert f'action="{version_url(draft, "new_draft")}"' in html


def test_adding_a_version_numbers_it_and_goes_on_to_its_page(admin_client, current, draft):
    response = admin_client.get(url("intake_questionnaireversion_add"),
                                {"questionnaire": current.questionnaire.pk})
    data = form_data(response)
    data.update({"title": "Shorter form", "introduction": "Just a few questions."})
    data[f"{inline_prefix(response, Section)}-0-title"] = "About your pain"
    response = admin_client.post(url("intake_questionnaireversion_add"), data)
    created = QuestionnaireVersion.objects.get(title="Shorter form")
    assert response.status_code == 302
    assert response["Location"] == version_url(created)
    assert created.number == 4
    assert created.status == QuestionnaireVersion.Status.DRAFT
    assert list(created.sections.values_list("title", flat=True)) == ["About your pain"]


# --- Publishing ------------------------------------------------------------------------------


def test_publish_asks_to_confirm_first(admin_client, draft):
    response = admin_client.get(version_url(draft, "publish"))
    assert response.status_code == 200
    assert "cannot be undone" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == QuestionnaireVersion.Status.DRAFT


def test_publish_button_publishes_a_valid_draft(admin_client, draft):
    response = admin_client.post(version_url(draft, "publish"))
    assert response.status_code == 302
    assert response["Location"] == version_url(draft)
    draft.refresh_from_db()
    assert draft.status == QuestionnaireVersion.Status.PUBLISHED
    assert any("Published version 3" in message for message in messages_of(response))


def test_publish_button_refuses_an_invalid_draft_and_shows_every_problem(admin_client, draft):
    draft.questions.filter(code="stress_level").update(min_value=9, max_value=2)
    draft.questions.filter(code="cancer_details").update(condition_question="no_such_code")
    response = admin_client.post(version_url(draft, "publish"), follow=True)
    draft.refresh_from_db()
    assert draft.status == QuestionnaireVersion.Status.DRAFT
    html = response.content.decode()
    assert "was not published" in html
    assert "stress_level (max value): The largest answer (2) is smaller than the smallest (9)." \
        in html
    assert "There is no question with code “no_such_code” in this version." in html


def test_publish_confirmation_lists_the_problems(admin_client, draft):
    draft.questions.filter(code="stress_level").update(min_value=9, max_value=2)
    html = admin_client.get(version_url(draft, "publish")).content.decode()
    assert "cannot be published yet" in html
    assert "The largest answer (2) is smaller than the smallest (9)." in html
    assert "Yes, publish it" not in html


def test_publish_action_on_the_list_publishes_valid_drafts(admin_client, draft):
    response = admin_client.post(url("intake_questionnaireversion_changelist"), {
        "action": "publish_selected", "_selected_action": [draft.pk],
    })
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.is_published
    assert any("Published version 3" in message for message in messages_of(response))


def test_publish_action_refuses_an_invalid_draft_with_the_problem(admin_client, draft):
    Choice.objects.filter(question__version=draft, question__code="sex").delete()
    response = admin_client.post(url("intake_questionnaireversion_changelist"), {
        "action": "publish_selected", "_selected_action": [draft.pk],
    }, follow=True)
    draft.refresh_from_db()
    assert not draft.is_published
    assert "sex (type): A choice question needs at least two choices." in \
        response.content.decode()


def test_publishing_a_published_version_is_refused(admin_client, current):
    response = admin_client.post(version_url(current, "publish"))
    assert response.status_code == 302
    assert any("already published" in message for message in messages_of(response))


def test_someone_who_may_only_view_cannot_publish_or_copy(questionnaire_viewer_client, draft):
    html = questionnaire_viewer_client.get(version_url(draft)).content.decode()
    assert version_url(draft, "preview") in html
    assert version_url(draft, "publish") not in html
    assert version_url(draft, "new_draft") not in html
    assert questionnaire_viewer_client.post(version_url(draft, "publish")).status_code == 403
    assert questionnaire_viewer_client.post(version_url(draft, "new_draft")).status_code == 403
    draft.refresh_from_db()
    assert not draft.is_published
    assert draft.questionnaire.versions.count() == 3


# --- New drafts ------------------------------------------------------------------------------


def test_new_draft_button_copies_the_version_and_opens_it(admin_client, current):
    response = admin_client.post(version_url(current, "new_draft"))
    new_draft = QuestionnaireVersion.objects.get(questionnaire=current.questionnaire,
                                                 number=3)
    assert response.status_code == 302
    assert response["Location"] == version_url(new_draft)
    assert new_draft.status == QuestionnaireVersion.Status.DRAFT
    assert new_draft.based_on == current
    assert version_shape(new_draft) == version_shape(current)


def test_new_draft_button_needs_a_post(admin_client, current):
    assert admin_client.get(version_url(current, "new_draft")).status_code == 405
    assert current.questionnaire.versions.count() == 2


def test_new_draft_action_copies_the_version_and_opens_it(admin_client, current, draft):
    response = admin_client.post(url("intake_questionnaireversion_changelist"), {
        "action": "new_draft_from_selected", "_selected_action": [current.pk],
    })
    new_draft = QuestionnaireVersion.objects.get(questionnaire=current.questionnaire,
                                                 number=4)
    assert response["Location"] == version_url(new_draft)
    assert version_shape(new_draft) == version_shape(current)


# --- Published versions are view-only --------------------------------------------------------


def test_published_version_page_has_nothing_to_edit(admin_client, current):
    response = admin_client.get(version_url(current))
    html = response.content.decode()
    assert_view_only(response)
    assert "chest_pain" in html, "the questions are still shown"
    assert version_url(current, "delete") not in html
    assert version_url(current, "publish") not in html
    assert "New draft from this version" in html


def test_published_question_page_has_nothing_to_edit(admin_client, current):
    question = current.questions.get(code="pain_onset")
    response = admin_client.get(question_url(question))
    html = response.content.decode()
    assert_view_only(response)
    assert "After a fall, an accident or a blow" in html, "the choices are still shown"
    assert url("intake_question_delete", question.pk) not in html


def test_posting_to_a_published_version_changes_nothing(admin_client, current, draft):
    # The page of a draft, posted to the published version with every field changed.
    response = admin_client.get(version_url(draft))
    data = form_data(response)
    data["title"] = "Changed"
    prefix = inline_prefix(response, Question)
    data[f"{prefix}-0-text"] = "Changed"
    before = version_shape(current)
    response = admin_client.post(version_url(current), data)
    assert response.status_code == 302
    assert any("is published and cannot be changed" in m for m in messages_of(response))
    current.refresh_from_db()
    assert current.title != "Changed"
    assert version_shape(current) == before


def test_posting_to_a_published_question_changes_nothing(admin_client, current):
    question = current.questions.get(code="pain_onset")
    response = admin_client.post(question_url(question), {
        "section": question.section_id, "code": "pain_onset", "text": "Changed",
        "type": "single_choice",
    })
    assert response.status_code == 302
    assert any("is published and cannot be changed" in m for m in messages_of(response))
    question.refresh_from_db()
    assert question.text != "Changed"


def test_published_versions_cannot_be_deleted(admin_client, current, draft):
    assert admin_client.post(version_url(current, "delete"), {"post": "yes"}).status_code == 403
    response = admin_client.post(url("intake_questionnaireversion_changelist"), {
        "action": "delete_selected", "_selected_action": [current.pk, draft.pk],
        "post": "yes",
    })
    assert QuestionnaireVersion.objects.filter(pk__in=[current.pk, draft.pk]).count() == 2
    assert any("Nothing was deleted" in message for message in messages_of(response))


def test_drafts_can_be_deleted_from_the_list(admin_client, draft):
    response = admin_client.post(url("intake_questionnaireversion_changelist"), {
        "action": "delete_selected", "_selected_action": [draft.pk],
    })
    assert "Are you sure" in response.content.decode()
    admin_client.post(url("intake_questionnaireversion_changelist"), {
        "action": "delete_selected", "_selected_action": [draft.pk], "post": "yes",
    })
    assert not QuestionnaireVersion.objects.filter(pk=draft.pk).exists()


def test_questions_of_published_versions_cannot_be_deleted_from_the_list(admin_client, current):
    question = current.questions.get(code="jaundice")
    response = admin_client.post(url("intake_question_changelist"), {
        "action": "delete_selected", "_selected_action": [question.pk], "post": "yes",
    })
    assert Question.objects.filter(pk=question.pk).exists()
    assert any("Nothing was deleted" in message for message in messages_of(response))


# --- Editing a draft's questions on the version page -----------------------------------------


def test_draft_question_text_can_be_changed_on_the_version_page(admin_client, draft):
    data, prefix = inline_form(admin_client, version_url(draft), Question)
    row = row_index(data, prefix, code="chest_pain")
    data[f"{prefix}-{row}-text"] = "Do you have any chest pain or tightness?"
    response = admin_client.post(version_url(draft), data)
    assert response.status_code == 302, response.context and [
        f.errors for i in response.context["inline_admin_formsets"] for f in i.formset.forms
        if f.errors
    ]
    assert draft.questions.get(code="chest_pain").text == \
        "Do you have any chest pain or tightness?"


def test_section_dropdown_offers_only_the_versions_sections(admin_client, draft):
    response = admin_client.get(version_url(draft))
    prefix = inline_prefix(response, Question)
    inline = next(i for i in response.context["inline_admin_formsets"]
                  if i.formset.prefix == prefix)
    offered = {value for value, _ in inline.formset.forms[0].fields["section"].choices if value}
    assert offered == set(draft.sections.values_list("pk", flat=True))


def post_refused(admin_client, url: str, data: dict):
    """Posts the page back: it must come back (200) to show what is wrong."""
    response = admin_client.post(url, data)
    assert response.status_code == 200
    return response


def inline_formset(response, prefix: str):
    return next(i.formset for i in response.context["inline_admin_formsets"]
                if i.formset.prefix == prefix)


def test_two_new_rows_with_the_same_code_are_refused_on_the_code_field(admin_client, draft):
    data, prefix = inline_form(admin_client, version_url(draft), Question)
    section = draft.sections.first().pk
    for text in ("First?", "Second?"):
        add_row(data, prefix, section=section, code="new_question", text=text, type="boolean")
    response = post_refused(admin_client, version_url(draft), data)
    formset = inline_formset(response, prefix)
    errors = [form.errors.get("code") for form in formset.forms[-2:]]
    assert all(e and "also uses the code “new_question”" in e[0] for e in errors), errors
    assert "also uses the code “new_question”" in response.content.decode()
    assert not draft.questions.filter(code="new_question").exists()


def test_a_new_row_with_an_existing_code_is_refused_on_the_code_field(admin_client, draft):
    data, prefix = inline_form(admin_client, version_url(draft), Question)
    row = add_row(data, prefix, section=draft.sections.first().pk, code="chest_pain",
                  text="Chest pain again?", type="boolean")
    response = post_refused(admin_client, version_url(draft), data)
    formset = inline_formset(response, prefix)
    assert "also uses the code “chest_pain”" in formset.forms[row].errors["code"][0]
    assert draft.questions.filter(code="chest_pain").count() == 1


def test_a_bad_condition_is_shown_on_the_condition_field_of_its_row(admin_client, draft):
    data, prefix = inline_form(admin_client, version_url(draft), Question)
    row = row_index(data, prefix, code="cancer_details")
    data[f"{prefix}-{row}-condition_question"] = "no_such_code"
    response = post_refused(admin_client, version_url(draft), data)
    formset = inline_formset(response, prefix)
    assert formset.forms[row].errors["condition_question"] == [
        "There is no question with code “no_such_code” in this version."
    ]
    assert draft.questions.get(code="cancer_details").condition_question == "history_of_cancer"


def test_renaming_a_code_others_depend_on_flags_the_dependants(admin_client, draft):
    data, prefix = inline_form(admin_client, version_url(draft), Question)
    data[f"{prefix}-{row_index(data, prefix, code='recent_trauma')}-code"] = "injury"
    response = post_refused(admin_client, version_url(draft), data)
    formset = inline_formset(response, prefix)
    dependant = row_index(data, prefix, code="trauma_details")
    assert "no question with code “recent_trauma”" in \
        formset.forms[dependant].errors["condition_question"][0]


def test_a_new_choice_question_can_be_added_before_its_choices(admin_client, draft):
    data, prefix = inline_form(admin_client, version_url(draft), Question)
    add_row(data, prefix, section=draft.sections.first().pk, code="sleep", type="single_choice",
            text="How do you sleep?")
    response = admin_client.post(version_url(draft), data)
    assert response.status_code == 302
    assert draft.questions.filter(code="sleep").exists()


def test_reordering_questions_by_their_position(admin_client, draft):
    """The drag handle writes 1, 2, 3... into each row's position in the new order."""
    data, prefix = inline_form(admin_client, version_url(draft), Question)
    total = int(data[f"{prefix}-INITIAL_FORMS"])
    codes_in_order = [data[f"{prefix}-{index}-code"] for index in range(total)]
    first, second = codes_in_order[0], codes_in_order[1]
    for index in range(total):
        data[f"{prefix}-{index}-position"] = str(index + 1)
    data[f"{prefix}-0-position"], data[f"{prefix}-1-position"] = "2", "1"
    response = admin_client.post(version_url(draft), data)
    assert response.status_code == 302
    section = draft.sections.order_by("position").first()
    assert list(section.questions.order_by("position").values_list("code", flat=True)[:2]) == [
        second, first
    ]


def test_reordering_sections_by_their_position(admin_client, draft):
    data, prefix = inline_form(admin_client, version_url(draft), Section)
    titles = [s.title for s in draft.sections.order_by("position")]
    for index in range(len(titles)):
        data[f"{prefix}-{index}-position"] = str(len(titles) - index)
    response = admin_client.post(version_url(draft), data)
    assert response.status_code == 302
    assert [s.title for s in draft.sections.order_by("position")] == titles[::-1]


def test_a_section_with_questions_cannot_be_deleted(admin_client, draft):
    data, prefix = inline_form(admin_client, version_url(draft), Section)
    data[f"{prefix}-0-DELETE"] = "on"
    response = post_refused(admin_client, version_url(draft), data)
    assert "still has questions" in response.content.decode()
    assert draft.sections.count() == 3


# --- The question page -----------------------------------------------------------------------


def question_page(admin_client, question):
    response = admin_client.get(question_url(question))
    return response, form_data(response)


def change_question(admin_client, draft, code: str, /, **changes):
    """The question ``code`` of ``draft``, and the response to its page posted back with
    ``changes`` made to what the form held (``code=`` among them changes the question's code)."""
    question = draft.questions.get(code=code)
    _, data = question_page(admin_client, question)
    data.update(changes)
    return question, admin_client.post(question_url(question), data)


def test_min_greater_than_max_is_shown_on_the_largest_answer_field(admin_client, draft):
    question, response = change_question(
        admin_client, draft, "stress_level", min_value="9", max_value="2")
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["max_value"] == [
        "The largest answer (2) is smaller than the smallest (9)."
    ]
    assert "The largest answer (2) is smaller than the smallest (9)." in \
        response.content.decode()
    question.refresh_from_db()
    assert (question.min_value, question.max_value) == (0, 10)


def test_duplicate_code_is_shown_on_the_code_field(admin_client, draft):
    _, response = change_question(admin_client, draft, "stress_level", code="chest_pain")
    assert response.status_code == 200
    assert "also uses the code “chest_pain”" in response.context["adminform"].form.errors[
        "code"][0]


def test_adding_a_question_with_a_duplicate_code_is_refused(admin_client, draft):
    response = admin_client.get(url("intake_question_add"))
    data = form_data(response)
    data.update({"section": draft.sections.first().pk, "code": "chest_pain", "text": "Again?",
                 "type": "boolean"})
    response = admin_client.post(url("intake_question_add"), data)
    assert response.status_code == 200
    assert "also uses the code “chest_pain”" in response.context["adminform"].form.errors[
        "code"][0]
    assert draft.questions.filter(code="chest_pain").count() == 1


def test_condition_on_an_unknown_code_is_shown_on_its_field(admin_client, draft):
    _, response = change_question(
        admin_client, draft, "trauma_details", condition_question="no_such_code")
    assert response.context["adminform"].form.errors["condition_question"] == [
        "There is no question with code “no_such_code” in this version."
    ]


def test_condition_answer_not_offered_is_shown_on_its_field(admin_client, draft):
    _, response = change_question(
        admin_client, draft, "trauma_details", condition_question="pain_onset",
        condition_answer="suddenly")
    errors = response.context["adminform"].form.errors["condition_answer"]
    assert "“suddenly” is not a choice of “pain_onset”" in errors[0]


def test_a_conditional_question_cannot_be_required(admin_client, draft):
    _, response = change_question(admin_client, draft, "trauma_details", required="on")
    assert response.context["adminform"].form.errors["required"] == [
        "A question shown only on a condition cannot be required."
    ]


def test_changing_the_type_of_a_question_others_depend_on_is_refused(admin_client, draft):
    _, response = change_question(
        admin_client, draft, "recent_trauma", type="text", max_length="100")
    assert response.status_code == 200
    assert "Question “trauma_mechanism” is shown only on an answer to this one" in \
        response.context["adminform"].form.errors["type"][0]


def test_a_valid_change_on_the_question_page_is_saved(admin_client, draft):
    question, response = change_question(
        admin_client, draft, "stress_level", max_value="5", help_text="0 to 5.")
    assert response.status_code == 302
    question.refresh_from_db()
    assert (question.max_value, question.help_text, question.version) == (5, "0 to 5.", draft)


def test_a_new_question_takes_the_version_of_its_section(admin_client, draft):
    section = draft.sections.order_by("position").last()
    response = admin_client.get(url("intake_question_add"))
    data = form_data(response)
    data.update({"section": section.pk, "code": "sleep_quality", "text": "How do you sleep?",
                 "type": "single_choice"})
    prefix = inline_prefix(response, Choice)
    data.update({f"{prefix}-0-value": "well", f"{prefix}-0-label": "Well",
                 f"{prefix}-1-value": "badly", f"{prefix}-1-label": "Badly"})
    response = admin_client.post(url("intake_question_add"), data)
    assert response.status_code == 302
    question = Question.objects.get(code="sleep_quality")
    assert question.version == draft
    assert question.section == section
    assert list(question.choices.values_list("value", flat=True)) == ["well", "badly"]


def test_published_sections_are_not_offered_for_new_questions(admin_client, current, draft):
    response = admin_client.get(url("intake_question_add"))
    offered = set(response.context["adminform"].form.fields["section"].queryset)
    assert offered == set(draft.sections.all())


def test_a_choice_question_needs_two_choices(admin_client, draft):
    question = draft.questions.get(code="sex")
    data, prefix = inline_form(admin_client, question_url(question), Choice)
    for index in range(1, int(data[f"{prefix}-TOTAL_FORMS"])):
        data[f"{prefix}-{index}-DELETE"] = "on"
    response = post_refused(admin_client, question_url(question), data)
    assert "A choice question needs at least two choices." in response.content.decode()
    assert question.choices.count() == 4


def test_duplicate_choice_values_are_shown_on_the_value_field(admin_client, draft):
    question = draft.questions.get(code="sex")
    data, prefix = inline_form(admin_client, question_url(question), Choice)
    add_row(data, prefix, value="female", label="Woman")
    response = post_refused(admin_client, question_url(question), data)
    assert "also has the value “female”" in response.content.decode()


def test_a_choice_another_question_waits_for_cannot_be_removed(admin_client, draft):
    draft.questions.filter(code="trauma_details").update(
        condition_question="pain_onset", condition_answer="after_injury")
    question = draft.questions.get(code="pain_onset")
    data, prefix = inline_form(admin_client, question_url(question), Choice)
    data[f"{prefix}-{row_index(data, prefix, value='after_injury')}-DELETE"] = "on"
    response = post_refused(admin_client, question_url(question), data)
    assert "Question “trauma_details” is shown only when the answer is “after_injury”" in \
        response.content.decode()
    assert question.choices.filter(value="after_injury").exists()


def test_a_broken_condition_can_be_mended_by_adding_the_choice_it_waits_for(admin_client, draft):
    draft.questions.filter(code="trauma_details").update(
        condition_question="pain_onset", condition_answer="at_work")
    question = draft.questions.get(code="pain_onset")
    response, data = question_page(admin_client, question)
    add_row(data, inline_prefix(response, Choice), value="at_work", label="At work")
    response = admin_client.post(question_url(question), data)
    assert response.status_code == 302
    assert question.choices.filter(value="at_work").exists()


def test_reordering_choices_by_their_position(admin_client, draft):
    question = draft.questions.get(code="sex")
    data, prefix = inline_form(admin_client, question_url(question), Choice)
    values = [data[f"{prefix}-{index}-value"] for index in range(4)]
    for index in range(4):
        data[f"{prefix}-{index}-position"] = str(4 - index)
    response = admin_client.post(question_url(question), data)
    assert response.status_code == 302
    assert list(question.choices.order_by("position").values_list("value", flat=True)) == \
        values[::-1]


# --- Preview and the questions partial -------------------------------------------------------


def test_preview_shows_the_form_as_a_patient_sees_it(admin_client, draft):
    response = admin_client.get(version_url(draft, "preview"))
    html = response.content.decode()
    assert response.status_code == 200
    assert draft.title in html
    assert "Your pain" in html  # a section heading
    # yes/no: two radio buttons in a fieldset with a legend
    assert 'id="answer-chest_pain-true" name="chest_pain" value="true"' in html
    assert 'id="answer-chest_pain-false" name="chest_pain" value="false"' in html
    # several choices: checkboxes; one choice: radios
    assert 'type="checkbox" id="answer-pain_location-neck" name="pain_location" value="neck"' \
        in html
    assert 'type="radio" id="answer-pain_onset-gradual" name="pain_onset"' in html
    # whole number with limits; text with a length limit
    assert re.search(r'<input type="number" inputmode="numeric" step="1" id="answer-'
                     r'pain_severity" name="pain_severity" value="" min="0" max="10"', html)
    assert re.search(r'<textarea id="answer-cancer_details" name="cancer_details" rows="4" '
                     r'maxlength="500"', html)
    # conditional questions say when to answer them
    assert 'data-condition-question="history_of_cancer" data-condition-answer="true"' in html
    assert "Answer this only if you answered Yes to “Have you ever been told you have cancer?”." \
        in html
    assert "Answers cannot be sent from this page." in html


def test_preview_loads_the_version_in_a_fixed_number_of_queries(
    admin_client, draft, django_assert_max_num_queries
):
    admin_client.get(version_url(draft, "preview"))  # warm the session and the user
    with django_assert_max_num_queries(10):
        admin_client.get(version_url(draft, "preview"))


def test_version_pages_load_in_a_fixed_number_of_queries(
    admin_client, current, draft, django_assert_max_num_queries
):
    for version in (current, draft):
        admin_client.get(version_url(version))
        with django_assert_max_num_queries(12):
            admin_client.get(version_url(version))


def render_questions(version, values=None, errors=None) -> str:
    return render_to_string("intake/_questions.html", {
        "version": _version_for_display(version.pk), "values": values or {},
        "errors": errors or {},
    })


def controls(html, code) -> list[str]:
    return re.findall(rf'<(?:input|textarea)\b[^>]*name="{code}"[^>]*>', html)


def test_partial_labels_every_control_and_marks_required_in_words(current):
    html = render_questions(current)
    assert "<form" not in html and "submit" not in html
    for control_id in re.findall(r'<(?:input|textarea)\b[^>]*\bid="([^"]+)"', html):
        assert f'<label for="{control_id}">' in html, control_id
    legend = re.search(r"<legend>Do you have pain, pressure[^<]*<span[^>]*>([^<]*)</span>", html)
    assert legend[1] == "(required)"
    assert re.search(r"What does the pain feel like\?[^<]*<span[^>]*>\(optional\)</span>", html)
    # the hint is linked to its question
    assert 'id="question-pain_location" aria-describedby="hint-pain_location"' in html
    assert 'id="hint-pain_location"' in html


def test_partial_says_which_choice_a_conditional_question_waits_for(draft):
    draft.questions.filter(code="trauma_details").update(
        condition_question="pain_onset", condition_answer="after_injury")
    html = render_questions(draft)
    assert 'data-condition-question="pain_onset" data-condition-answer="after_injury"' in html
    assert "Answer this only if you chose “After a fall, an accident or a blow” for “How did " \
        "the pain start?”." in html
    assert 'aria-describedby="condition-trauma_details"' in html


def test_partial_keeps_submitted_answers(current):
    html = render_questions(current, values={
        "chest_pain": "true", "pain_onset": "after_injury",
        "pain_location": ["neck", "upper_back"], "pain_severity": "7",
        "other_information": "Sore <b>all</b> day",
    })
    assert "checked" in controls(html, "chest_pain")[0]
    assert "checked" not in controls(html, "chest_pain")[1]
    checked_onsets = [c for c in controls(html, "pain_onset") if "checked" in c]
    assert len(checked_onsets) == 1 and 'value="after_injury"' in checked_onsets[0]
    checked_locations = sorted(re.search(r'value="(\w+)"', c)[1]
                               for c in controls(html, "pain_location") if "checked" in c)
    assert checked_locations == ["neck", "upper_back"]
    assert 'value="7"' in controls(html, "pain_severity")[0]
    assert "Sore &lt;b&gt;all&lt;/b&gt; day</textarea>" in html


def test_partial_shows_errors_beside_the_field(current):
    html = render_questions(current, errors={"pain_severity": ["Choose a number from 0 to 10."],
                                               "chest_pain": ["Answer yes or no."]})
    assert '<span class="error-message" id="error-pain_severity">Choose a number from 0 to 10.' \
        in html
    assert 'aria-invalid="true"' in controls(html, "pain_severity")[0]
    assert 'aria-describedby="hint-pain_severity error-pain_severity"' in html
    assert all('aria-invalid="true"' in c for c in controls(html, "chest_pain"))
    assert 'id="error-chest_pain"' in html
    assert 'aria-invalid' not in controls(html, "breathing_difficulty")[0]
