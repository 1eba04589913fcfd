"""The patient's copy of their answers: on screen after sending (to print or save), and by
email when they ask for one.

The email holds no clinical detail: only a link, signed by the server (``django.core.signing``,
so nothing is stored for it) and good for ``COPY_LINK_DAYS``, that asks for the date of birth
before it shows the answers.  Wrong dates of birth are counted per link in the cache; after
``MAX_TRIES`` the link stops working.
"""

import datetime
import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.translation import gettext as _

from intake.models import StoredAnswer, Submission
from intake.question_types import type_of
from intake.services import translations

logger = logging.getLogger(__name__)

COPY_LINK_DAYS = 14
MAX_TRIES = 5
_SALT = "intake.copy"


@dataclass(frozen=True)
class AnsweredQuestion:
    question: str
    answer: str


def answers_in_words(submission: Submission) -> list[AnsweredQuestion]:
    """The answers as the patient gave them: the question as they saw it, and the labels of
    what they chose, in the language they filled the form in (its translation's texts)."""
    texts = translations.texts_for(submission.questionnaire_version, submission.language)
    return [AnsweredQuestion(texts.get(f"question:{answer.question_code}")
                             or answer.question_text, _in_words(answer, texts))
            for answer in submission.answered]


def _in_words(answer: StoredAnswer, texts: dict) -> str:
    value = answer.value
    if isinstance(value, bool):
        return texts.get("yes" if value else "no") or (_("Yes") if value else _("No"))
    labels = {option.value: texts.get(f"choice:{answer.question_code}:{option.value}")
              or option.label
              for option in type_of(answer.question).options(answer.question)}
    if isinstance(value, list):
        return ", ".join(labels.get(v, v) for v in value)
    return labels.get(str(value), str(value))


def link_for(submission: Submission) -> str:
    token = signing.dumps(submission.pk, salt=_SALT, compress=True)
    return settings.SITE_URL.rstrip("/") + reverse("intake:copy", args=[token])


def email_link(submission: Submission, address: str) -> None:
    clinic = submission.clinic
    send_mail(
        f"Your answers for {clinic.name}",
        f"You asked for a copy of the answers you sent to {clinic.name} (reference "
        f"{submission.reference}).\n\nOpen them here; you will be asked for your date of "
        f"birth first, and the link works for {COPY_LINK_DAYS} days:\n{link_for(submission)}\n\n"
        f"If your pain gets much worse, or you have chest pain, call "
        f"{clinic.emergency_number}.\n",
        settings.DEFAULT_FROM_EMAIL, [address])


class CopyUnavailable(Exception):
    pass


def submission_for(token: str) -> Submission:
    """The submission a copy link is for; ``CopyUnavailable`` if it is not one of ours, too
    old, locked, or its patient's details are gone."""
    try:
        pk = signing.loads(token, salt=_SALT,
                           max_age=datetime.timedelta(days=COPY_LINK_DAYS))
    except signing.BadSignature:
        raise CopyUnavailable("This link is not complete, or is too old. Ask the clinic for "
                              "a copy of your answers.") from None
    submission = (Submission.objects.select_related("clinic")
                  .filter(pk=pk, anonymised_at__isnull=True).first())
    if submission is None or submission.date_of_birth is None:
        raise CopyUnavailable("These answers are no longer kept here. Ask the clinic for a "
                              "copy.")
    if _tries(token) >= MAX_TRIES:
        raise CopyUnavailable("This link has been locked after too many wrong dates of "
                              "birth. Ask the clinic for a copy of your answers.")
    return submission


def date_of_birth_matches(token: str, submission: Submission, born: datetime.date) -> bool:
    if born == submission.date_of_birth:
        return True
    key = _tries_key(token)
    try:
        cache.add(key, 0, timeout=COPY_LINK_DAYS * 24 * 3600)
        cache.incr(key)
    except Exception as error:  # the cache (Redis) is down: counted no further
        logger.warning("a wrong date of birth on a copy link was not counted (%s)",
                       type(error).__name__)
    return False


def _tries_key(token: str) -> str:
    return f"copy-tries:{hashlib.sha256(token.encode()).hexdigest()}"


def _tries(token: str) -> int:
    try:
        return cache.get(_tries_key(token), 0)
    except Exception:  # the cache (Redis) is down: the date of birth still guards the link
        return 0
