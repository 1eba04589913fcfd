"""Screening rules as versioned data, and the flags they raise on submissions.

A rule set belongs to a questionnaire and is checked against one of its versions.  It is a draft
while admins edit it, becomes active (at most one per questionnaire) when an admin activates it,
and is retired when another one is activated.  Like a published questionnaire version, an active
or retired rule set never changes again: a submission's flags point at the exact rules that
raised them.  Changing the rules means creating a new draft from a rule set
(``screening.services.create_draft_from``), editing it, dry-running it and activating it.

Who changed which rule when is kept by django-simple-history (``history`` on both models).
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from intake.models import validate_code


class Tier(models.TextChoices):
    """How urgent a flag is, most urgent first.  A submission with no flag is ``routine``, which
    is an urgency but never a rule's tier."""

    EMERGENCY = "emergency", "Emergency"
    URGENT = "urgent", "Urgent"
    SOON = "soon", "Soon"


class Category(models.TextChoices):
    POSSIBLE_CARDIAC = "possible_cardiac", "Possible cardiac"
    RED_FLAG = "red_flag", "Red flag"
    NERVE = "nerve", "Nerve"
    ORGAN_REFERRED = "organ_referred", "Organ-referred"


class RuleSetLockedError(ValidationError):
    """Raised on any attempt to change an active or retired rule set or its rules."""

    def __init__(self, rule_set):
        super().__init__(
            f"Rule set version {rule_set.version} is {rule_set.status} and cannot be changed. "
            "Create a new draft from it and edit that instead.",
            code="locked",
        )


def _refuse_unless_draft(rule_set_id):
    """Ask the database, not an instance: an instance loaded before activation is stale."""
    if rule_set_id is None:
        return
    locked = RuleSet.objects.filter(pk=rule_set_id).exclude(status=RuleSet.Status.DRAFT).first()
    if locked is not None:
        raise RuleSetLockedError(locked)


class RuleSet(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    questionnaire = models.ForeignKey(
        "intake.Questionnaire", on_delete=models.PROTECT, related_name="rule_sets",
        editable=False,
    )
    questionnaire_version = models.ForeignKey(
        "intake.QuestionnaireVersion",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The questionnaire version the conditions are checked against: every question "
        "code and choice value a rule uses must exist in it.",
    )
    version = models.PositiveIntegerField(editable=False)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    notes = models.TextField(
        blank=True, help_text="What changed in this version and why (for the clinical record)."
    )
    based_on = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        help_text="The rule set this draft was copied from.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    activated_at = models.DateTimeField(null=True, blank=True, editable=False)
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["questionnaire_id", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["questionnaire", "version"],
                name="unique_rule_set_version",
                violation_error_message="This questionnaire already has a rule set with that "
                "version number.",
            ),
            models.UniqueConstraint(
                fields=["questionnaire"],
                condition=models.Q(status="active"),
                name="one_active_rule_set_per_questionnaire",
                violation_error_message="Another rule set is already active for this "
                "questionnaire.",
            ),
        ]
        permissions = [("activate_ruleset", "Can activate a rule set")]

    def __str__(self):
        return f"Rule set v{self.version} ({self.get_status_display().lower()})"

    # The last line of defence for immutability: services and the admin check first and give
    # friendlier errors.  Activation and retirement are conditional bulk updates in
    # screening.services, which do not go through save().
    def save(self, *args, **kwargs):
        _refuse_unless_draft(self.pk)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse_unless_draft(self.pk)
        return super().delete(*args, **kwargs)

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    def clean(self):
        if self.questionnaire_version_id is None:
            return
        version_questionnaire_id = self.questionnaire_version.questionnaire_id
        if self.questionnaire_id is None:
            self.questionnaire_id = version_questionnaire_id
        elif self.questionnaire_id != version_questionnaire_id:
            raise ValidationError({"questionnaire_version": (
                "Choose a version of this rule set's own questionnaire; a rule set cannot move "
                "to another questionnaire."
            )})


class RuleQuerySet(models.QuerySet):
    """Refuses bulk updates and deletes that would touch an active or retired rule set."""

    def _refuse_if_locked(self):
        locked = self.exclude(rule_set__status=RuleSet.Status.DRAFT).first()
        if locked is not None:
            raise RuleSetLockedError(locked.rule_set)

    def update(self, **kwargs):
        self._refuse_if_locked()
        return super().update(**kwargs)

    def delete(self):
        self._refuse_if_locked()
        return super().delete()


class Rule(models.Model):
    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="rules")
    code = models.CharField(
        max_length=64,
        validators=[validate_code],
        help_text="Stable identifier of the rule, shown on flags (e.g. cardiac_chest_pain).",
    )
    category = models.CharField(max_length=20, choices=Category.choices)
    tier = models.CharField(
        max_length=10, choices=Tier.choices,
        help_text="How urgent the submission is when this rule fires.",
    )
    condition = models.TextField(
        help_text="When the rule fires, over question codes, e.g. "
        "chest_pain or 'chest' in pain_radiates_to.  Yes/no questions are true or false "
        "(false when an optional one is unanswered); whole numbers compare with < <= > >=; a "
        "one-choice question compares with == 'value'; a several-choices question is a list: "
        "'value' in code (empty when an optional one is unanswered).  An unanswered optional "
        "whole-number, one-choice or text question is null: write (code ?? 0) to say what it "
        "means.",
    )
    explanation = models.TextField(
        help_text="Why this matters, for the clinician who reviews the flag."
    )
    enabled = models.BooleanField(
        default=True, help_text="Switched-off rules are kept but never evaluated."
    )
    position = models.PositiveIntegerField(default=0, db_index=True)

    objects = RuleQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["rule_set_id", "position", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule_set", "code"],
                name="unique_rule_code_per_rule_set",
                violation_error_message="Another rule in this rule set already uses this code.",
            ),
        ]

    def __str__(self):
        return self.code

    def save(self, *args, **kwargs):
        _refuse_unless_draft(self.rule_set_id)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse_unless_draft(self.rule_set_id)
        return super().delete(*args, **kwargs)

    def _rule_set_or_none(self) -> RuleSet | None:
        # In the admin's "add rule set" page the parent is not saved yet, so rule_set_id is None
        # but the inline form has attached the unsaved parent.
        if self.rule_set_id is None and not Rule._meta.get_field("rule_set").is_cached(self):
            return None
        return self.rule_set

    def clean(self):
        rule_set = self._rule_set_or_none()
        if rule_set is None or rule_set.questionnaire_version_id is None or not self.condition:
            return
        # Imported here: screening.services imports this module.
        from screening.services import condition_problems

        problems = condition_problems(self.condition, rule_set.questionnaire_version)
        if problems:
            raise ValidationError({"condition": problems})


class Flag(models.Model):
    """A rule that fired on a submission, frozen as it was: a clinician sees why the case is in
    the queue, and an auditor can reproduce the decision from the evidence and the rule set."""

    submission = models.ForeignKey(
        "intake.Submission", on_delete=models.CASCADE, related_name="flags"
    )
    rule_set = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="flags")
    rule_code = models.CharField(max_length=64)
    category = models.CharField(max_length=20, choices=Category.choices)
    tier = models.CharField(max_length=10, choices=Tier.choices)
    explanation = models.TextField()
    evidence = models.JSONField(
        help_text="The answers the rule's condition refers to, by question code (null: not "
        "answered)."
    )
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Most urgent first, then by rule code."
    )

    class Meta:
        ordering = ["submission_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "rule_code"], name="one_flag_per_rule_per_submission"
            ),
        ]

    def __str__(self):
        return f"{self.rule_code} ({self.tier})"
