"""Reading questionnaires."""

from django.conf import settings
from django.db.models import Prefetch

from intake.models import Question, QuestionnaireVersion, Section


def current_version(slug: str | None = None) -> QuestionnaireVersion | None:
    """The published version patients answer now: the highest-numbered published version of
    the questionnaire, with its sections, questions and choices loaded.

    A published version never changes, so once loaded it is kept for this process, keyed by
    its id and publication time; each call costs one small query to learn which version is
    current (a newly published one is picked up at once).
    """
    slug = slug or settings.INTAKE_QUESTIONNAIRE_SLUG
    latest = (
        QuestionnaireVersion.objects.published().filter(questionnaire__slug=slug)
        .order_by("-number").values_list("pk", "published_at").first()
    )
    if latest is None:
        return None
    cached = _loaded_versions.get(slug)
    if cached is not None and (cached.pk, cached.published_at) == latest:
        return cached
    version = _load_version(latest[0])
    _loaded_versions[slug] = version
    return version


# slug -> the current version as last loaded (see current_version).
_loaded_versions: dict[str, QuestionnaireVersion] = {}


def _load_version(pk: int) -> QuestionnaireVersion:
    return (
        QuestionnaireVersion.objects.filter(pk=pk)
        .select_related("questionnaire")
        .prefetch_related(
            Prefetch("sections", queryset=Section.objects.order_by("position", "pk")),
            Prefetch(
                "sections__questions",
                queryset=Question.objects.order_by("position", "pk").prefetch_related("choices"),
            ),
        )
        .get()
    )
