"""A question's choices edited inside its card on the draft version page (issue 18): added
without typing a value (made from the label), reworded, reordered and removed in the same save
as the questions, checked with them, and audited; and nothing a practice manager can post
changes a published version or a question's code or a choice's value."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from clinic.models import AuditEvent
from intake.models import Choice, Question

pytestmark = pytest.mark.django_db


def version_url(version) -> str:
    return reverse("admin:intake_questionnaireversion_change", args=[version.pk])


def _field_value(bound):
    value = bound.value()
    if value is True:
        return "on"
    if value is None or value is False:
        return None
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return value.pk if hasattr(value, "pk") else value


def _form_data(form) -> dict:
    data = {}
    for bound in form:
        value = _field_value(bound)
        if value is not None:
            data[bound.html_name] = value
    return data


def _formset_data(formset) -> dict:
    data = {
        f"{formset.prefix}-{name}": value for name, value in formset.management_form.initial.items()
    }
    data[f"{formset.prefix}-TOTAL_FORMS"] = len(formset.forms)
    for form in formset.forms:
        data.update(_form_data(form))
        if getattr(form, "choices", None) is not None:
            data.update(_formset_data(form.choices))
    return data


def page_data(response) -> dict:
    """Everything the version page would post back unchanged: the version's form, its sections
    and questions, and each question's choices."""
    data = _form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        data.update(_formset_data(inline.formset))
    data["_continue"] = "Save and continue editing"
    return data


def card(response, code: str):
    """The prefix of the card of the question with ``code``, and its choices' prefix."""
    questions = response.context["inline_admin_formsets"][1].formset
    form = next(form for form in questions.forms if form.instance.code == code)
    return form.prefix, form.choices.prefix, len(form.choices.forms)


def test_a_card_shows_its_choices_to_edit_with_their_values_shown_not_typed(
    practice_manager_client, draft
):
    response = practice_manager_client.get(version_url(draft))
    html = response.content.decode()
    _, choices, count = card(response, "pain_location")
    assert count == draft.questions.get(code="pain_location").choices.count()
    assert f'name="{choices}-0-label"' in html
    assert f'name="{choices}-0-value"' not in html  # the value is shown, never an input
    assert "value: upper_back" in html
    assert f'name="{choices}-TOTAL_FORMS"' in html
    assert "card-choice-template" in html


def test_a_choice_added_in_the_card_gets_a_value_from_its_label_and_is_audited(
    practice_manager_client, draft
):
    response = practice_manager_client.get(version_url(draft))
    data = page_data(response)
    _, choices, count = card(response, "pain_location")
    data.update(
        {
            f"{choices}-TOTAL_FORMS": count + 1,
            f"{choices}-{count}-id": "",
            f"{choices}-{count}-label": "Lower back (the small of the back)",
            f"{choices}-{count}-position": count + 1,
            # A value posted anyway is not a field of the card: it is ignored.
            f"{choices}-{count}-value": "typed_by_hand",
        }
    )
    result = practice_manager_client.post(version_url(draft), data)
    assert result.status_code == 302, _errors(result)
    question = draft.questions.get(code="pain_location")
    added = question.choices.get(label="Lower back (the small of the back)")
    assert added.value == "lower_back_the_small_of_the_back"
    assert list(question.choices.values_list("value", flat=True))[-1] == added.value
    event = AuditEvent.objects.filter(action="admin_change").first()
    assert {
        "what": "choice “Lower back (the small of the back)”",
        "field": "",
        "before": "(none)",
        "after": "added",
    } in event.changes


def test_choices_are_reworded_reordered_and_removed_in_the_card(practice_manager_client, draft):
    question = draft.questions.get(code="pain_location")
    first, second, third = question.choices.order_by("position", "pk")[:3]
    first_label = first.label
    response = practice_manager_client.get(version_url(draft))
    data = page_data(response)
    _, choices, _ = card(response, "pain_location")
    index = {
        form.instance.pk: number
        for number, form in enumerate(
            next(
                f
                for f in response.context["inline_admin_formsets"][1].formset.forms
                if f.instance.code == "pain_location"
            ).choices.forms
        )
    }
    data[f"{choices}-{index[first.pk]}-label"] = "The upper back"
    # The second goes first; the third is removed.
    for number, choice in enumerate(question.choices.order_by("position", "pk")):
        data[f"{choices}-{index[choice.pk]}-position"] = number + 1
    data[f"{choices}-{index[second.pk]}-position"] = 1
    data[f"{choices}-{index[first.pk]}-position"] = 2
    data[f"{choices}-{index[third.pk]}-DELETE"] = "on"
    result = practice_manager_client.post(version_url(draft), data)
    assert result.status_code == 302, _errors(result)
    first.refresh_from_db()
    assert (first.label, first.value) == ("The upper back", "upper_back")  # value kept
    ordered = list(question.choices.order_by("position", "pk").values_list("pk", flat=True))
    assert ordered[0] == second.pk
    assert not Choice.objects.filter(pk=third.pk).exists()
    changes = AuditEvent.objects.filter(action="admin_change").first().changes
    assert {
        "what": "choice “The upper back”",
        "field": "What the patient reads",
        "before": first_label,
        "after": "The upper back",
    } in changes
    assert {
        "what": f"choice “{third.label}”",
        "field": "",
        "before": "present",
        "after": "deleted",
    } in changes


def test_a_new_choice_question_is_written_with_its_choices_in_one_save(
    practice_manager_client, draft
):
    response = practice_manager_client.get(version_url(draft))
    data = page_data(response)
    questions = response.context["inline_admin_formsets"][1].formset
    new = len(questions.forms)
    prefix = f"{questions.prefix}-{new}"
    data[f"{questions.prefix}-TOTAL_FORMS"] = new + 1
    data.update(
        {
            f"{prefix}-section": draft.sections.order_by("position").first().pk,
            f"{prefix}-text": "How do you sleep?",
            f"{prefix}-type": "single_choice",
            f"{prefix}-code": "",
            f"{prefix}-position": 999,
            f"{prefix}-choices-TOTAL_FORMS": 3,
            f"{prefix}-choices-INITIAL_FORMS": 0,
            f"{prefix}-choices-0-label": "Well",
            f"{prefix}-choices-0-position": 1,
            f"{prefix}-choices-1-label": "Badly",
            f"{prefix}-choices-1-position": 2,
            f"{prefix}-choices-2-label": "",  # an empty row is ignored
        }
    )
    result = practice_manager_client.post(version_url(draft), data)
    assert result.status_code == 302, _errors(result)
    question = draft.questions.get(code="how_do_you_sleep")
    assert list(question.choices.values_list("value", "label")) == [
        ("well", "Well"),
        ("badly", "Badly"),
    ]


def test_the_card_refuses_a_choice_question_left_with_one_choice(practice_manager_client, draft):
    response = practice_manager_client.get(version_url(draft))
    data = page_data(response)
    question = draft.questions.get(code="pain_location")
    _, choices, count = card(response, "pain_location")
    for number in range(1, count):
        data[f"{choices}-{number}-DELETE"] = "on"
    result = practice_manager_client.post(version_url(draft), data)
    assert result.status_code == 200
    assert "A choice question needs at least two choices." in result.content.decode()
    assert question.choices.count() == count


def test_removing_a_choice_another_question_waits_for_is_refused(practice_manager_client, draft):
    # Version 2 shows a question only when "upper_abdomen" is chosen for pain_location.
    dependant = draft.questions.get(condition_question="pain_location")
    target = draft.questions.get(code=dependant.condition_question)
    awaited = target.choices.get(value=dependant.condition_answer)
    response = practice_manager_client.get(version_url(draft))
    data = page_data(response)
    form = next(
        f
        for f in response.context["inline_admin_formsets"][1].formset.forms
        if f.instance.pk == target.pk
    )
    number = next(i for i, f in enumerate(form.choices.forms) if f.instance.pk == awaited.pk)
    data[f"{form.choices.prefix}-{number}-DELETE"] = "on"
    result = practice_manager_client.post(version_url(draft), data)
    assert result.status_code == 200
    assert (
        f"“{dependant.condition_answer}” is not a choice of “{target.code}”"
        in result.content.decode()
    )
    assert Choice.objects.filter(pk=awaited.pk).exists()


def test_a_page_posted_without_the_cards_choices_leaves_them_as_they_are(
    practice_manager_client, draft
):
    response = practice_manager_client.get(version_url(draft))
    data = {key: value for key, value in page_data(response).items() if "-choices-" not in key}
    before = list(Choice.objects.filter(question__version=draft).values_list("pk", "value"))
    result = practice_manager_client.post(version_url(draft), data)
    assert result.status_code == 302, _errors(result)
    assert list(Choice.objects.filter(question__version=draft).values_list("pk", "value")) == before


# --- Nothing a practice manager can reach changes a published version or a code ------------


def test_no_post_a_practice_manager_can_make_changes_a_published_version_or_a_code(
    practice_manager, practice_manager_client, current, draft
):
    # Even with every permission of the apps' models (which the group does not have).
    practice_manager.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["intake", "screening", "clinic"])
    )
    snapshot = _snapshot(current)
    question = current.questions.get(code="pain_location")
    choice = question.choices.order_by("position").first()

    # The published version's page, posted back with a new code, a reworded question, a new
    # choice, a changed choice label and a removed choice: nothing is saved.
    draft_page = practice_manager_client.get(version_url(draft))
    data = page_data(draft_page)
    # The draft's page, pointed at the published version's rows.
    renamed = dict(data)
    questions = draft_page.context["inline_admin_formsets"][1].formset
    published_rows = {q.code: q for q in current.questions.all()}
    for form in questions.forms:
        twin = published_rows[form.instance.code]
        renamed[f"{form.prefix}-id"] = twin.pk
        renamed[f"{form.prefix}-version"] = current.pk
        renamed[f"{form.prefix}-section"] = twin.section_id
        twin_choices = {c.value: c.pk for c in twin.choices.all()}
        for number, nested in enumerate(form.choices.forms):
            renamed[f"{form.choices.prefix}-{number}-id"] = twin_choices[nested.instance.value]
            renamed[f"{form.choices.prefix}-{number}-question"] = twin.pk
    prefix, choices, count = card(draft_page, "pain_location")
    renamed[f"{prefix}-code"] = "renamed_code"
    renamed[f"{prefix}-text"] = "Changed?"
    renamed[f"{choices}-0-label"] = "Changed label"
    renamed[f"{choices}-1-DELETE"] = "on"
    renamed.update(
        {f"{choices}-TOTAL_FORMS": count + 1, f"{choices}-{count}-label": "A new choice"}
    )
    for number, section in enumerate(current.sections.order_by("position", "pk")):
        renamed[f"sections-{number}-id"] = section.pk
    response = practice_manager_client.post(version_url(current), renamed)
    assert response.status_code in (302, 403)

    # The question's own page: a new code, text and type, a choice's value and label.
    page = practice_manager_client.get(reverse("admin:intake_question_change", args=[question.pk]))
    assert page.status_code == 200  # to view
    response = practice_manager_client.post(
        reverse("admin:intake_question_change", args=[question.pk]),
        {
            "section": question.section_id,
            "code": "renamed_code",
            "text": "Changed?",
            "type": "boolean",
            "choices-TOTAL_FORMS": 1,
            "choices-INITIAL_FORMS": 1,
            "choices-0-id": choice.pk,
            "choices-0-question": question.pk,
            "choices-0-label": "Changed label",
            "choices-0-value": "changed_value",
            "choices-0-position": 1,
        },
    )
    assert response.status_code in (302, 403)
    # A question added to the published version, or one of its questions deleted.
    response = practice_manager_client.post(
        reverse("admin:intake_question_add"),
        {
            "section": question.section_id,
            "code": "sneaked_in",
            "text": "Sneaked in?",
            "type": "boolean",
            "choices-TOTAL_FORMS": 0,
            "choices-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code in (200, 403)
    _try_to_delete(practice_manager_client, "question", question.pk)
    # The version itself: its fields, deleting it, publishing it again.
    _try_to_delete(practice_manager_client, "questionnaireversion", current.pk)
    practice_manager_client.post(
        reverse("admin:intake_questionnaireversion_publish", args=[current.pk])
    )

    assert _snapshot(current) == snapshot


def test_a_drafts_saved_choice_values_cannot_be_retyped_on_its_card(practice_manager_client, draft):
    question = draft.questions.get(code="pain_location")
    values = list(question.choices.values_list("pk", "value"))
    response = practice_manager_client.get(version_url(draft))
    data = page_data(response)
    _, choices, count = card(response, "pain_location")
    for number in range(count):
        data[f"{choices}-{number}-value"] = f"retyped_{number}"
    result = practice_manager_client.post(version_url(draft), data)
    assert result.status_code == 302, _errors(result)
    assert list(question.choices.values_list("pk", "value")) == values


def _try_to_delete(client, model: str, pk: int) -> None:
    """Deleting the object both ways the admin offers: its delete page is refused; the list's
    delete action answers with a page or a redirect (whether it deleted, the caller checks)."""
    response = client.post(reverse(f"admin:intake_{model}_delete", args=[pk]), {"post": "yes"})
    assert response.status_code == 403
    response = client.post(
        reverse(f"admin:intake_{model}_changelist"),
        {"action": "delete_selected", "_selected_action": [pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)


def _snapshot(version) -> list:
    version.refresh_from_db()
    rows = [(version.status, version.title, version.introduction, version.published_at)]
    rows += list(
        Question.objects.filter(version=version)
        .order_by("pk")
        .values_list(
            "pk",
            "code",
            "text",
            "help_text",
            "type",
            "required",
            "position",
            "section_id",
            "condition_question",
            "condition_answer",
        )
    )
    rows += list(
        Choice.objects.filter(question__version=version)
        .order_by("pk")
        .values_list("pk", "question_id", "value", "label", "is_exclusive", "position")
    )
    return rows


def _errors(response) -> str:
    if response.context is None:
        return str(response.status_code)
    problems = [str(response.context["adminform"].form.errors)]
    for inline in response.context["inline_admin_formsets"]:
        problems.append(str(inline.formset.non_form_errors()))
        for form in inline.formset.forms:
            if form.errors:
                problems.append(f"{form.prefix}: {form.errors}")
            for nested in getattr(form, "nested_formsets", []):
                problems.append(f"{nested.prefix}: {nested.errors} {nested.non_form_errors()}")
    return "\n".join(problem for problem in problems if problem and problem != "[]")


def test_a_published_versions_cards_show_their_choices_read_only(practice_manager_client, current):
    html = practice_manager_client.get(version_url(current)).content.decode()
    question = current.questions.get(code="pain_location")
    assert "-choices-TOTAL_FORMS" not in html
    assert 'class="choice-label"' not in html and "card-choice-template" not in html
    for choice in question.choices.all():
        assert f'<span class="choice-label-shown">{choice.label}</span>' in html
        assert f'<span class="choice-value">({choice.value})</span>' in html
