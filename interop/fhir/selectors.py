"""Reading published questionnaire versions with everything a FHIR Questionnaire shows.

Drafts are never read here: only published versions are exchanged.  Each version comes with
``latest_number``, the number of its questionnaire's newest published version, so a caller
can tell the current version (``active``) from older ones (``retired``).
"""

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from intake.models import Choice, Question, QuestionnaireVersion, Section


def _with_contents(versions: QuerySet[QuestionnaireVersion]) -> QuerySet[QuestionnaireVersion]:
    latest = (QuestionnaireVersion.objects.published()
              .filter(questionnaire=OuterRef("questionnaire")).order_by("-number")
              .values("number")[:1])
    return (
        versions.select_related("questionnaire")
        .annotate(latest_number=Subquery(latest))
        .prefetch_related(
            Prefetch("sections", queryset=Section.objects.order_by("position", "pk")),
            Prefetch("sections__questions", queryset=Question.objects.order_by("position", "pk")
                     .prefetch_related(Prefetch("choices", queryset=Choice.objects.order_by(
                         "position", "pk")))),
        )
    )


def published_versions(*, slug: str | None = None,
                       number: int | None = None) -> list[QuestionnaireVersion]:
    """Published versions, newest first within each questionnaire; narrowed to one
    questionnaire's slug and one version number when given.  Four queries."""
    versions = QuestionnaireVersion.objects.published()
    if slug is not None:
        versions = versions.filter(questionnaire__slug=slug)
    if number is not None:
        versions = versions.filter(number=number)
    return list(_with_contents(versions).order_by("questionnaire__slug", "-number"))


def published_version(slug: str, number: int) -> QuestionnaireVersion | None:
    found = published_versions(slug=slug, number=number)
    return found[0] if found else None


def version_with_contents(version_id: int) -> QuestionnaireVersion:
    """A submission's version (published: a submission only ever points at one)."""
    return _with_contents(QuestionnaireVersion.objects.filter(pk=version_id)).get()


def is_current(version: QuestionnaireVersion) -> bool:
    return version.number == version.latest_number
