"""Reading questionnaires: the version patients answer now (``current_version``), and a
version's questions as answers are judged against them (``VersionSchema``).

Both are kept per process once read from a published version, which never changes: keyed by
its id and publication time, so that a reused primary key (a test database rolled back) can
never return another version's questions.  (Screening reads a version's questions afresh with
``VersionSchema.read`` and keeps its compiled rule sets instead.)
"""

from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from intake.models import Question, QuestionnaireVersion, Section
from intake.question_types import QuestionType, type_of


def current_version(slug: str | None = None) -> QuestionnaireVersion | None:
    """The published version patients answer now: the highest-numbered published version of
    the questionnaire, with its sections, questions and choices loaded.

    A published version never changes, so once loaded it is kept for this process, keyed by
    its id and publication time; each call costs one small query to learn which version is
    current (a newly published one is picked up at once).
    """
    latest = latest_published(slug).values_list("pk", "published_at").first()
    return loaded_version(slug, *latest) if latest else None


def latest_published(slug: str | None = None) -> QuerySet:
    """The questionnaire's published versions, the current one first: ``.first()`` of it, or a
    subquery of it in a larger query, says which version is current."""
    slug = slug or settings.INTAKE_QUESTIONNAIRE_SLUG
    return (QuestionnaireVersion.objects.published().filter(questionnaire__slug=slug)
            .order_by("-number"))


def loaded_version(slug: str | None, pk: int, published_at) -> QuestionnaireVersion:
    """The current version, which ``latest_published`` named by its id and publication time,
    with its questions loaded: from this process's memory when it was loaded before."""
    slug = slug or settings.INTAKE_QUESTIONNAIRE_SLUG
    cached = _loaded_versions.get(slug)
    if cached is not None and (cached.pk, cached.published_at) == (pk, published_at):
        return cached
    version = _load_version(pk)
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


@dataclass(frozen=True)
class QuestionSpec:
    """One question of a version, as its answers are judged: by validation, the form, screening
    and FHIR.  Its type (``kind``) says how."""

    pk: int
    code: str
    text: str
    type: str
    required: bool
    choices: tuple[str, ...] = ()  # the choice values, in order
    exclusive: tuple[str, ...] = ()  # the choices that cannot be chosen with another
    min_value: int | None = None
    max_value: int | None = None
    max_length: int | None = None
    condition_question: str = ""  # shown only when the question with this code ...
    condition_answer: str = ""  # ... has this answer

    @property
    def kind(self) -> QuestionType:
        return type_of(self.type)

    @property
    def always_answered(self) -> bool:
        """Whether every valid submission answers it: required and asked of everyone.  A
        question shown only on a condition is never required, whatever its flag says."""
        return self.required and not self.condition_question


@dataclass(frozen=True)
class VersionSchema:
    """A questionnaire version's questions, by code, in the order patients see them."""

    version_id: int | None
    version_number: int | None
    questions: Mapping[str, QuestionSpec]

    @classmethod
    def of(cls, version: QuestionnaireVersion) -> "VersionSchema":
        """The questions of ``version``; a published version's are read once and kept."""
        key = (version.pk, version.published_at)
        if version.is_published and key in _published_schemas:
            return _published_schemas[key]
        schema = cls.read(version)
        if version.is_published:
            _published_schemas[key] = schema
        return schema

    @classmethod
    def read(cls, version: QuestionnaireVersion) -> "VersionSchema":
        """The questions of ``version`` as they are now (two queries), not kept: for screening,
        whose compiled rule sets are kept instead (``screening.services``)."""
        questions = (Question.objects.filter(version=version).prefetch_related("choices")
                     .order_by("section__position", "position", "pk"))
        return cls(version_id=version.pk, version_number=version.number,
                   questions={q.code: _spec(q) for q in questions})

    @property
    def name(self) -> str:
        return f"questionnaire version {self.version_number}"

    def fingerprint(self) -> list:
        """Everything about the questions that can change what a screening condition means."""
        return [
            [s.code, s.type, s.always_answered, list(s.choices), s.min_value, s.max_value]
            for s in sorted(self.questions.values(), key=lambda s: s.code)
        ]


def _spec(question: Question) -> QuestionSpec:
    choices = list(question.choices.all())
    return QuestionSpec(
        pk=question.pk, code=question.code, text=question.text, type=question.type,
        required=question.required,
        choices=tuple(c.value for c in choices),
        exclusive=tuple(c.value for c in choices if c.is_exclusive),
        min_value=question.min_value, max_value=question.max_value,
        max_length=question.max_length, condition_question=question.condition_question,
        condition_answer=question.condition_answer,
    )


# (version id, publication time) -> its schema (see VersionSchema.of).
_published_schemas: dict[tuple, VersionSchema] = {}
