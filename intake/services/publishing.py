"""Publishing a questionnaire version: checked as a questionnaire (``version_problems``) and
against the active screening rules, which must still find every question and choice they refer
to.  It sits above screening, which itself builds on the questionnaires."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from intake.models import QuestionnaireVersion
from intake.services.questionnaires import version_problems
from screening.services import check_questionnaire_version_against_active_rules


def publish_version(version: QuestionnaireVersion) -> QuestionnaireVersion:
    """Publish a draft, making it the current version patients answer.

    Raises ``ValidationError`` listing every problem when the draft is not fit to publish, or
    when it is already published.
    """
    with transaction.atomic():
        locked = QuestionnaireVersion.objects.select_for_update().get(pk=version.pk)
        if locked.is_published:
            raise ValidationError(f"Version {locked.number} is already published.",
                                  code="published")
        problems = version_problems(locked)
        if problems:
            raise ValidationError(problems, code="invalid")
        # The active rules must still find every question and choice they refer to.
        check_questionnaire_version_against_active_rules(locked)
        # A conditional update: of two concurrent publishers exactly one wins.
        published = QuestionnaireVersion.objects.filter(
            pk=locked.pk, status=QuestionnaireVersion.Status.DRAFT
        ).update(status=QuestionnaireVersion.Status.PUBLISHED, published_at=timezone.now())
        if published != 1:  # pragma: no cover - the row lock above makes this unreachable
            raise ValidationError("The version was published by someone else.", code="published")
    version.refresh_from_db()
    return version
