"""Questionnaires, their versions, and the submissions patients make against them.

A questionnaire has numbered versions.  A version is a draft until it is published; a published
version never changes again (see ``core.immutability``), so a submission, which points at the
exact version the patient saw, can always be read as it was answered.  Editing a published
questionnaire means creating the next draft from it (``intake.services.questionnaires``).
"""

import datetime
import re
import zoneinfo
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from core.constraints import unique
from core.immutability import FrozenError, FrozenQuerySet, FrozenWithOwner
from screening.urgency import Urgency

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
validate_code = RegexValidator(
    CODE_PATTERN,
    "Use lower-case letters, digits and underscores, starting with a letter (e.g. chest_pain).",
)
# Choice values may start with a digit: the question bank has e.g. 1_to_3_weeks.
CHOICE_VALUE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*$")
validate_choice_value = RegexValidator(
    CHOICE_VALUE_PATTERN,
    "Use lower-case letters, digits and underscores (e.g. left_arm or 1_to_3_weeks).",
)


def age_on(born: datetime.date, on: datetime.date) -> int:
    """Whole years from ``born`` to ``on``: less one if ``on``'s (month, day) comes before the
    birthday's, so a 29 February birthday is reached on 1 March in other years."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def age_when_submitted(born: datetime.date | None, submitted_at: datetime.datetime,
                       timezone: str) -> int | None:
    """A patient's age on the day they submitted, in their clinic's time zone (as screening
    worked it out); None without a date of birth (anonymised)."""
    if born is None:
        return None
    return age_on(born, submitted_at.astimezone(zoneinfo.ZoneInfo(timezone)).date())


class PublishedVersionError(FrozenError):
    """Raised on any attempt to change a published questionnaire version or its contents."""

    def __init__(self, version):
        super().__init__(f"Version {version.number} of “{version.questionnaire}” is published",
                         code="published")


class VersionContentQuerySet(FrozenQuerySet):
    """Sections and questions: refuses bulk changes to a published version's."""

    owner_path = "version"


class VersionContent(FrozenWithOwner):
    """Part of a questionnaire version (``core.immutability``): frozen once it is published."""

    objects = VersionContentQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def owning_version(self) -> "QuestionnaireVersion":
        raise NotImplementedError

    def owner_key(self):
        return QuestionnaireVersion, self.owning_version.pk


class Questionnaire(models.Model):
    slug = models.SlugField(unique=True, help_text="Stable identifier used in URLs and exports.")
    name = models.CharField(max_length=200, help_text="Name staff see in the admin.")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class VersionQuerySet(FrozenQuerySet):

    def published(self):
        return self.filter(status=QuestionnaireVersion.Status.PUBLISHED)


class QuestionnaireVersion(FrozenWithOwner):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    # Publishing itself is a conditional update in intake.services.publishing, which does not
    # go through save() (core.immutability).
    FROZEN_STATUSES = (Status.PUBLISHED,)

    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.PROTECT, related_name="versions"
    )
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    title = models.CharField(max_length=200, help_text="The title patients see above the form.")
    introduction = models.TextField(
        blank=True, help_text="A short paragraph shown to patients above the questions."
    )
    based_on = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The version this draft was copied from.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = VersionQuerySet.as_manager()

    class Meta:
        ordering = ["questionnaire", "-number"]
        constraints = [
            unique("questionnaire", "number", name="unique_version_number",
                   message="This questionnaire already has a version with that number."),
        ]

    def __str__(self):
        return f"{self.questionnaire} v{self.number} ({self.get_status_display().lower()})"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    @property
    def owning_version(self):
        return self

    def owner_key(self):
        return QuestionnaireVersion, self.pk

    def frozen_error(self) -> "PublishedVersionError":
        return PublishedVersionError(self)

class Section(VersionContent):
    version = models.ForeignKey(
        QuestionnaireVersion, on_delete=models.CASCADE, related_name="sections"
    )
    title = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0, db_index=True)

    class Meta:
        ordering = ["version", "position", "pk"]

    def __str__(self):
        return self.title

    @property
    def owning_version(self):
        return self.version


class Question(VersionContent):
    # Everything that depends on a question's type is in its class in intake.question_types.
    class Type(models.TextChoices):
        BOOLEAN = "boolean", "Yes or no"
        SINGLE_CHOICE = "single_choice", "One choice"
        MULTI_CHOICE = "multi_choice", "Several choices"
        INTEGER = "integer", "Whole number"
        TEXT = "text", "Text"

    version = models.ForeignKey(
        QuestionnaireVersion, on_delete=models.CASCADE, related_name="questions"
    )
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="questions")
    code = models.CharField(
        max_length=64,
        validators=[validate_code],
        help_text="Stable identifier used by the screening rules, the API and exports. Once "
        "published, a code never changes meaning.",
    )
    text = models.CharField(max_length=500, help_text="The question as the patient reads it.")
    help_text = models.CharField(
        max_length=500, blank=True, help_text="Optional hint shown under the question."
    )
    type = models.CharField(max_length=20, choices=Type.choices)
    required = models.BooleanField(default=False)
    min_value = models.IntegerField(null=True, blank=True, help_text="Whole-number questions.")
    max_value = models.IntegerField(null=True, blank=True, help_text="Whole-number questions.")
    max_length = models.PositiveIntegerField(
        null=True, blank=True, help_text="Text questions: the most characters allowed."
    )
    condition_question = models.CharField(
        max_length=64,
        blank=True,
        help_text="Show this question only when the question with this code ...",
    )
    condition_answer = models.CharField(
        max_length=64,
        blank=True,
        help_text="... has this answer: true or false for a yes/no question, a choice value for "
        "a choice question.",
    )
    position = models.PositiveIntegerField(default=0, db_index=True)

    class Meta:
        ordering = ["version", "section__position", "position", "pk"]
        constraints = [
            unique("version", "code", name="unique_question_code_per_version",
                   message="Another question in this version already uses this code."),
        ]

    def __str__(self):
        return self.code

    @property
    def owning_version(self):
        return self.version

    @property
    def is_conditional(self) -> bool:
        return bool(self.condition_question)

    @property
    def enable_when(self) -> dict | None:
        """The show-condition in the API's form, with the answer typed like the answers are."""
        if not self.condition_question:
            return None
        answer: bool | str = self.condition_answer
        if answer in ("true", "false"):
            answer = answer == "true"
        return {"question": self.condition_question, "answer": answer}


class ChoiceQuerySet(FrozenQuerySet):
    owner_path = "question__version"


class Choice(VersionContent):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    value = models.CharField(
        max_length=64,
        validators=[validate_choice_value],
        help_text="Stable identifier of this choice, used by rules and the API.",
    )
    label = models.CharField(max_length=200, help_text="What the patient reads.")
    is_exclusive = models.BooleanField(
        default=False,
        help_text="Cannot be chosen together with another choice (e.g. “none of these”).",
    )
    position = models.PositiveIntegerField(default=0, db_index=True)

    objects = ChoiceQuerySet.as_manager()

    class Meta:
        ordering = ["question", "position", "pk"]
        constraints = [
            unique("question", "value", name="unique_choice_value_per_question",
                   message="This question already has a choice with this value."),
        ]

    def __str__(self):
        return self.label

    @property
    def owning_version(self):
        return self.question.version


class QuestionnaireTranslation(models.Model):
    """A questionnaire version's texts in another language: its title and introduction, section
    titles, question texts and hints, and choice labels (``texts``, keyed as
    ``intake.services.translations`` describes).  Codes, answers and screening are the same in
    every language.  A translation is offered to patients only once someone with the
    ``intake.sign_off_translation`` permission has signed it off as clinically reviewed; from
    then on it is frozen, as its version is (a correction is a new version)."""

    class Status(models.TextChoices):
        AWAITING_REVIEW = "awaiting_review", "Awaiting clinical review"
        SIGNED_OFF = "signed_off", "Signed off: offered to patients"

    version = models.ForeignKey(QuestionnaireVersion, on_delete=models.CASCADE,
                                related_name="translations")
    language = models.CharField(max_length=10, choices=settings.PATIENT_LANGUAGES[1:])
    texts = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices,
                              default=Status.AWAITING_REVIEW, editable=False)
    signed_off_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                      null=True, blank=True, related_name="+", editable=False)
    signed_off_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["version", "language"]
        permissions = [("sign_off_translation",
                        "Can sign off a translation as clinically reviewed")]
        constraints = [
            unique("version", "language", name="one_translation_per_language",
                   message="This version already has a translation into this language."),
        ]

    def __str__(self):
        return f"{self.get_language_display()} translation of {self.version}"

    def save(self, *args, **kwargs):
        if self.pk is not None and QuestionnaireTranslation.objects.filter(
                pk=self.pk, status=self.Status.SIGNED_OFF).exists():
            raise ValidationError("A signed-off translation cannot be changed: translate a new "
                                  "version instead.")
        super().save(*args, **kwargs)


class Appointment(models.Model):
    """A booked appointment at a clinic: the patient fills in the intake before it, from the
    invitation it sends.  Made in the admin, by CSV import, or by a booking system over REST,
    which names it by its own ``external_id`` (unique per clinic) and may send it again."""

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CANCELLED = "cancelled", "Cancelled"
        ATTENDED = "attended", "Attended"
        DID_NOT_ATTEND = "did_not_attend", "Did not attend"

    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT,
                               related_name="appointments")
    starts_at = models.DateTimeField("starts at", db_index=True)
    practitioner = models.ForeignKey(
        "clinic.Clinician", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="Who the patient will see (optional).",
    )
    external_id = models.CharField(
        "booking system's id", max_length=100, blank=True,
        help_text="The appointment's id in the booking system (unique per clinic); empty for "
        "appointments made here.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOOKED)
    # The patient's details, pre-filled on their form; emptied with the intake's after the
    # retention period (intake.services.retention).
    full_name = models.CharField(max_length=200)
    date_of_birth = models.DateField(null=True)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            unique("clinic", "external_id", name="one_appointment_per_external_id",
                   when=~models.Q(external_id=""),
                   message="This clinic already has an appointment with this booking system id."),
        ]
        indexes = [models.Index(fields=["clinic", "starts_at"], name="appointments_by_day")]

    def __str__(self):
        return f"appointment {self.pk} at {self.clinic_id}"


class Invitation(models.Model):
    """The link that invites an appointment's patient to fill in the intake.  The token in the
    link is never stored: ``token_hash`` finds it, and the token is re-made from ``secret`` and
    the server's key (``intake.services.invitations``) for a booking system that asks again.  It
    works once, until the appointment starts or is cancelled, and locks after a few wrong dates
    of birth."""

    appointment = models.OneToOneField(Appointment, on_delete=models.CASCADE,
                                       related_name="invitation")
    secret = models.CharField(max_length=64, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminders_sent = models.PositiveSmallIntegerField(default=0, editable=False)
    last_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    failed_checks = models.PositiveSmallIntegerField(
        default=0, editable=False, help_text="Wrong dates of birth entered with this link.")
    locked_at = models.DateTimeField(null=True, blank=True,
                                     help_text="Set after too many wrong dates of birth; clear "
                                     "it (and the count) to let the patient try again.")
    used_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self):
        return f"invitation for {self.appointment}"


class FormDraft(models.Model):
    """A patient's form in progress, saved page by page so that nothing typed is lost: the
    answers so far as the form posted them (strings, a list for several choices), kept against
    a random key in the patient's session (``key_hash``: the key is never stored, nor put in a
    URL), or against their invitation, which any device can resume after the date-of-birth
    check.  Deleted when the intake is sent, and when it expires (``expires_at``; the daily
    retention task removes what is left)."""

    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.CASCADE, related_name="+")
    invitation = models.OneToOneField(Invitation, on_delete=models.CASCADE, null=True,
                                      blank=True, related_name="draft")
    version = models.ForeignKey(QuestionnaireVersion, on_delete=models.CASCADE,
                                related_name="+")
    patient = models.JSONField(default=dict)  # the "About you" fields, as posted
    answers = models.JSONField(default=dict)  # {question code: as posted}
    pages_done = models.PositiveSmallIntegerField(
        default=0, help_text="How many pages in a row have been completed.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"form draft {self.pk}"


class Submission(models.Model):
    """One patient's intake: who they are, the exact version they answered, and its screening."""

    Urgency = Urgency  # screening.urgency: one type for the whole service

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        REVIEWED = "reviewed", "Reviewed"

    class Outcome(models.TextChoices):
        """What happened to the patient, as the reviewing clinician found."""

        EMERGENCY_DEPARTMENT = "emergency_department", "Sent to A&E / 999"
        SAME_DAY = "same_day", "Same-day GP or urgent care"
        APPOINTMENT = "appointment", "Seen at the appointment"
        OTHER = "other", "Other"

    class Judgement(models.TextChoices):
        """The reviewing clinician's view of the screening's urgency."""

        RIGHT = "right", "Right"
        TOO_HIGH = "too_high", "Too high"
        TOO_LOW = "too_low", "Too low"

    reference = models.CharField(max_length=20, unique=True, editable=False)
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="+")
    questionnaire_version = models.ForeignKey(
        QuestionnaireVersion, on_delete=models.PROTECT, related_name="submissions"
    )
    # The patient's details; emptied when the submission is anonymised after the retention
    # period (intake.services.retention).
    full_name = models.CharField(max_length=200)
    date_of_birth = models.DateField(null=True)
    phone = models.CharField(max_length=40)
    email = models.EmailField(blank=True)
    anonymised_at = models.DateTimeField(null=True, blank=True, editable=False)
    submitted_at = models.DateTimeField(default=timezone.now, editable=False)
    answers = models.JSONField(
        default=dict, blank=True, editable=False,
        help_text="The answers by question code, as validated (unanswered questions left out). "
        "The questions' texts are the questionnaire version's, which never changes once "
        "published.")
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    # The queue's sort key, most urgent first, kept by the database from the urgency so that
    # the queue can be read in index order.
    priority = models.GeneratedField(
        expression=models.Case(
            *(models.When(urgency=urgency.value, then=models.Value(urgency.rank))
              for urgency in Urgency if urgency != Urgency.ROUTINE),
            default=models.Value(Urgency.ROUTINE.rank),
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )
    screening_failed = models.BooleanField(
        default=False,
        help_text="Screening raised an error; the submission is treated as urgent.",
    )
    rule_set = models.ForeignKey(
        "screening.RuleSet",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The rule set that screened it (empty when screening failed).",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", help_text="The clinician who said they are calling the patient.",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)
    # What the clinician found, so the screening's accuracy can be measured (optional).
    outcome = models.CharField(max_length=24, choices=Outcome.choices, blank=True)
    triage_judgement = models.CharField(max_length=10, choices=Judgement.choices, blank=True)
    judged_flag = models.CharField(
        max_length=64, blank=True,
        help_text="The flag the judgement is about (the one that was wrong, or missing).",
    )
    language = models.CharField(
        max_length=10, default="en-gb", choices=settings.PATIENT_LANGUAGES,
        help_text="The language the patient filled the form in (the answers are the same codes "
        "in every language; clinicians read them in English).")
    appointment = models.OneToOneField(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="intake",
        help_text="The appointment whose invitation it was made from (none for walk-ins).",
    )
    # Stamped by every service that changes what the queue shows of the case (claiming,
    # reviewing, reopening, acknowledging its alert, its appointment, anonymising), so the
    # polled queue can tell from an index whether anything changed
    # (``clinic.review.cases.queue_version``).
    changed_at = models.DateTimeField(
        default=timezone.now, editable=False,
        help_text="When what the queue shows of the case last changed.")

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [
            # The latest change at each clinic, and how many cases are open there: read by the
            # polled queue to answer 304 Not Modified without reading a row.
            models.Index(fields=["clinic", "changed_at"], name="submission_changes"),
            models.Index(fields=["clinic"], condition=models.Q(status="open"),
                         name="open_cases_by_clinic"),
            # The open queue, in its order: most urgent first, then oldest first.
            models.Index(
                fields=["priority", "submitted_at", "id"],
                condition=models.Q(status="open"),
                name="open_queue_order",
            ),
            models.Index(fields=["status", "submitted_at"], name="submission_by_status"),
        ]

    def __str__(self):
        return self.reference

    @property
    def age(self) -> int | None:
        """The patient's age on the day they submitted, in their clinic's time zone (as
        screening worked it out); None once anonymised."""
        return age_when_submitted(self.date_of_birth, self.submitted_at, self.clinic.timezone)

    @property
    def sex(self) -> str | None:
        """The answer to the ``sex`` question, if it was asked.  Reads ``sex_answer`` when the
        queue read just that answer (``clinic.review.cases.queue``), else the answers."""
        if "sex_answer" in self.__dict__:
            return self.sex_answer
        return self.answers.get("sex")

    @cached_property
    def answered(self) -> list["StoredAnswer"]:
        """The answers in the order the questionnaire asks them, each with its question as the
        patient was asked it (with its choices, to show their labels): two queries, once."""
        questions = (Question.objects.filter(version_id=self.questionnaire_version_id,
                                             code__in=list(self.answers))
                     .prefetch_related("choices").order_by("section__position", "position", "pk"))
        return [StoredAnswer(question, self.answers[question.code]) for question in questions]


@dataclass(frozen=True)
class StoredAnswer:
    """One answer of a submission with the question it answers (``Submission.answered``)."""

    question: Question
    value: Any

    @property
    def question_code(self) -> str:
        return self.question.code

    @property
    def question_text(self) -> str:
        return self.question.text


class IdempotencyRecord(models.Model):
    """The first successful response to a POST made with an ``Idempotency-Key``, so that a retry
    with the same key and body gets the same answer and stores nothing new."""

    key = models.CharField(max_length=255, unique=True)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the canonical request.")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="+")
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return f"idempotency record {self.pk}"
