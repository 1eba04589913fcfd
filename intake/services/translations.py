"""A questionnaire version's texts in the patient's language.

A translation (``QuestionnaireTranslation``) holds, for one version and one language, the
patient-facing texts keyed by what they belong to:

- ``title``, ``introduction``: the version's;
- ``section:<position>``: a section's title;
- ``question:<code>``, ``help:<code>``: a question's text and hint;
- ``choice:<code>:<value>``: a choice's label;
- ``condition:<code>``: when to answer a question shown on a condition;
- ``yes``, ``no``: the labels of yes/no answers.

A text left out (or empty) shows in English.  Only what is signed off is offered to patients;
what they answer is the same codes whatever the language, so screening, the queue and the case
page (in English, with the language noted) do not change.
"""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import Invalid
from intake.models import QuestionnaireTranslation, QuestionnaireVersion
from intake.question_types import type_of

ENGLISH = "en-gb"


def english_texts(version: QuestionnaireVersion) -> dict[str, str]:
    """Every text of ``version`` a translation may give, keyed as above, in form order, in
    English (its sections, questions and choices prefetched or not)."""
    texts = {"title": version.title, "introduction": version.introduction,
             "yes": "Yes", "no": "No"}
    for section in version.sections.all():
        texts[f"section:{section.position}"] = section.title
        for question in section.questions.all():
            texts[f"question:{question.code}"] = question.text
            if question.help_text:
                texts[f"help:{question.code}"] = question.help_text
            if question.condition_question:
                texts[f"condition:{question.code}"] = _condition_hint(question, version)
            for choice in question.choices.all():
                texts[f"choice:{question.code}:{choice.value}"] = choice.label
    return {key: text for key, text in texts.items() if text}


def offered_languages(version: QuestionnaireVersion) -> list[tuple[str, str]]:
    """English, and the languages of the version's signed-off translations, as
    ``(code, name)`` in the settings' order."""
    signed_off = set(QuestionnaireTranslation.objects.filter(
        version=version, status=QuestionnaireTranslation.Status.SIGNED_OFF,
    ).values_list("language", flat=True))
    return [(code, name) for code, name in settings.PATIENT_LANGUAGES
            if code == ENGLISH or code in signed_off]


def texts_for(version: QuestionnaireVersion, language: str) -> dict[str, str]:
    """The signed-off texts of ``version`` in ``language`` ({} for English, or none)."""
    if language == ENGLISH:
        return {}
    translation = QuestionnaireTranslation.objects.filter(
        version=version, language=language,
        status=QuestionnaireTranslation.Status.SIGNED_OFF).first()
    return translation.texts if translation else {}


def language_offered(version: QuestionnaireVersion, language: object) -> str:
    """``language`` if it is offered for ``version``, else English."""
    return (language if isinstance(language, str)
            and language in dict(offered_languages(version)) else ENGLISH)


def is_right_to_left(language: str) -> bool:
    return language in settings.RIGHT_TO_LEFT_LANGUAGES


class TranslationIncomplete(Invalid):
    """A sign-off refused: ``errors`` names the texts still in English."""


def sign_off(translation: QuestionnaireTranslation, *, by,
             now: datetime.datetime | None = None) -> None:
    """Sign off a translation as clinically reviewed: it is offered to patients from now on,
    and frozen.  Every text must be translated."""
    missing = [key for key in english_texts(translation.version)
               if not str(translation.texts.get(key, "")).strip()]
    if missing:
        raise TranslationIncomplete(
            {"texts": [f"Not translated yet: {', '.join(missing[:10])}"
                       + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")]},
            "Every text must be translated before it is signed off.")
    with transaction.atomic():
        QuestionnaireTranslation.objects.filter(
            pk=translation.pk, status=QuestionnaireTranslation.Status.AWAITING_REVIEW,
        ).update(status=QuestionnaireTranslation.Status.SIGNED_OFF, signed_off_by=by,
                 signed_off_at=now or timezone.now())
    translation.refresh_from_db()


def _condition_hint(question, version: QuestionnaireVersion) -> str:
    target = next((q for section in version.sections.all() for q in section.questions.all()
                   if q.code == question.condition_question), None)
    if target is None:
        return ""
    return type_of(target).condition_hint(target, question.condition_answer)
