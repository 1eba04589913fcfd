"""Reading questionnaires."""

from django.conf import settings
from django.db.models import Prefetch

from intake.models import Question, QuestionnaireVersion, Section


def current_version(slug: str | None = None) -> QuestionnaireVersion | None:
    """The published version patients answer now: the highest-numbered published version of
    the questionnaire, with its sections, questions and choices loaded in four queries."""
    return (
        QuestionnaireVersion.objects.published()
        .filter(questionnaire__slug=slug or settings.INTAKE_QUESTIONNAIRE_SLUG)
        .select_related("questionnaire")
        .prefetch_related(
            Prefetch("sections", queryset=Section.objects.order_by("position", "pk")),
            Prefetch(
                "sections__questions",
                queryset=Question.objects.order_by("position", "pk").prefetch_related("choices"),
            ),
        )
        .order_by("-number")
        .first()
    )
