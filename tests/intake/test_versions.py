"""Questionnaire versions: published versions never change; drafts are copies; publishing checks."""

import pytest
from django.core.exceptions import ValidationError

from intake.models import (
    Choice,
    PublishedVersionError,
    Question,
    QuestionnaireVersion,
    Section,
)
from intake.selectors import current_version
from intake.services.publishing import publish_version
from intake.services.questionnaires import create_draft_from
from tests.factories import refusal, save_refused, version_shape

pytestmark = pytest.mark.django_db


@pytest.fixture
def version_1():
    return QuestionnaireVersion.objects.get(questionnaire__slug="upper-back-pain", number=1)


@pytest.fixture
def current():
    """Version 2, which migrate publishes as the current version."""
    return QuestionnaireVersion.objects.get(questionnaire__slug="upper-back-pain", number=2)


def test_migrate_publishes_version_2_and_keeps_version_1(current, version_1):
    assert current.is_published
    assert current.published_at is not None
    assert current_version() == current
    assert current.questions.count() == 44
    # Version 1 stays published, as it was, for the submissions made on it.
    assert version_1.is_published
    assert version_1.questions.count() == 30


class TestPublishedVersionCannotChange:
    def test_question_text(self, current):
        question = current.questions.get(code="chest_pain")
        save_refused(question, PublishedVersionError, text="Changed?")
        assert current.questions.get(code="chest_pain").text != "Changed?"

    def test_version_title(self, current):
        save_refused(current, PublishedVersionError, title="Changed")

    def test_choice_label(self, current):
        choice = Choice.objects.get(question__version=current, value="jaw")
        save_refused(choice, PublishedVersionError, label="Changed")

    def test_new_question(self, current):
        with pytest.raises(PublishedVersionError):
            Question.objects.create(version=current, section=current.sections.first(),
                                    code="new_question", text="New?", type="boolean")

    def test_new_section(self, current):
        with pytest.raises(PublishedVersionError):
            Section.objects.create(version=current, title="New")

    def test_deletes(self, current):
        with pytest.raises(PublishedVersionError):
            current.questions.get(code="jaundice").delete()
        with pytest.raises(PublishedVersionError):
            current.delete()
        assert current.questions.filter(code="jaundice").exists()

    def test_bulk_update_and_delete(self, current):
        with pytest.raises(PublishedVersionError):
            Question.objects.filter(version=current).update(text="bulk")
        with pytest.raises(PublishedVersionError):
            Choice.objects.filter(question__version=current).delete()
        with pytest.raises(PublishedVersionError):
            QuestionnaireVersion.objects.filter(pk=current.pk).update(title="bulk")
        assert not current.questions.filter(text="bulk").exists()

    def test_stale_draft_instance_cannot_be_saved_after_publishing(self, current):
        draft = create_draft_from(current)
        stale_question = draft.questions.get(code="chest_pain")
        publish_version(draft)
        save_refused(stale_question, PublishedVersionError, text="Sneaky edit")


def test_new_draft_copies_the_version(current):
    draft = create_draft_from(current)
    assert draft.number == 3
    assert draft.status == QuestionnaireVersion.Status.DRAFT
    assert draft.based_on == current
    assert version_shape(draft) == version_shape(current)
    assert not set(draft.questions.values_list("pk", flat=True)) & set(
        current.questions.values_list("pk", flat=True))
    assert current_version() == current, "a draft is not served to patients"


def test_drafts_can_be_edited_and_published(current):
    draft = create_draft_from(current)
    question = draft.questions.get(code="chest_pain")
    question.text = "Do you have any chest pain or tightness?"
    question.save()
    published = publish_version(draft)
    assert published.is_published
    assert current_version() == draft
    assert current.questions.get(code="chest_pain").text != question.text


def test_draft_numbers_follow_the_latest_version(current):
    assert create_draft_from(current).number == 3
    assert create_draft_from(current).number == 4


def test_publishing_twice_is_refused(current):
    with pytest.raises(ValidationError, match="already published"):
        publish_version(current)


def test_publish_names_every_problem(current):
    draft = create_draft_from(current)
    draft.questions.filter(code="stress_level").update(min_value=9, max_value=2)
    draft.questions.filter(code="cancer_details").update(condition_question="no_such_code")
    draft.questions.filter(code="trauma_details").update(required=True)
    draft.questions.filter(code="pain_severity").update(max_length=20)
    messages = refusal(publish_version, draft)
    assert "stress_level (max value)" in messages
    assert "no question with code “no_such_code”" in messages
    assert "trauma_details (required)" in messages
    assert "pain_severity (max length)" in messages
    draft.refresh_from_db()
    assert draft.status == QuestionnaireVersion.Status.DRAFT


def test_publish_refuses_a_condition_on_a_value_not_offered(current):
    draft = create_draft_from(current)
    draft.questions.filter(code="cancer_details").update(
        condition_question="pain_onset", condition_answer="suddenly")
    with pytest.raises(ValidationError, match="“suddenly” is not a choice of “pain_onset”"):
        publish_version(draft)


def test_publish_refuses_a_choice_question_without_choices(current):
    draft = create_draft_from(current)
    Choice.objects.filter(question__version=draft, question__code="sex").delete()
    with pytest.raises(ValidationError, match=r"sex .*at least two choices"):
        publish_version(draft)


def test_duplicate_code_is_refused_by_the_database(current):
    draft = create_draft_from(current)
    duplicate = Question(version=draft, section=draft.sections.first(), code="chest_pain",
                         text="Again?", type="boolean")
    with pytest.raises(ValidationError, match="already uses this code"):
        duplicate.full_clean()


def test_every_question_and_choice_of_version_2_passes_model_validation(current):
    """What migrate publishes must be editable in the admin once copied to a draft."""
    draft = create_draft_from(current)
    for question in draft.questions.all():
        question.full_clean()
        for choice in question.choices.all():
            choice.full_clean()
