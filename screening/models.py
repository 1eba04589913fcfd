"""Screening rules as versioned data, and the flags they raise on submissions.

A rule set belongs to a questionnaire and is checked against one of its versions.  It is a draft
while admins edit it, becomes active (at most one per questionnaire) when an admin activates it,
and is retired when another one is activated.  Like a published questionnaire version, an active
or retired rule set never changes again: a submission's flags point at the exact rules that
raised them.  Changing the rules means creating a new draft from a rule set
(``screening.services.create_draft_from``), editing it, dry-running it and activating it.

Who changed which rule when is kept by django-simple-history (``history`` on both models).
"""

import re
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from core.constraints import unique
from core.immutability import AppendOnly, FrozenError, FrozenQuerySet, FrozenWithOwner
from intake.models import validate_code
from screening.urgency import Tier, Urgency

# A free-text term: lower-case words of letters and digits (any script), single spaces, each
# word optionally ending in * (a word start).
TERM_PATTERN = re.compile(r"^[^\W_]+\*?( [^\W_]+\*?)*$")
validate_term = RegexValidator(
    TERM_PATTERN,
    "Use lower-case words of letters and digits separated by single spaces; end a word with * "
    "to match any word that starts with it.",
)


class Category(models.TextChoices):
    POSSIBLE_CARDIAC = "possible_cardiac", "Possible cardiac"
    VASCULAR = "vascular", "Vascular (aorta, stroke, clots)"
    RESPIRATORY = "respiratory", "Respiratory"
    RED_FLAG = "red_flag", "Red flag"
    INFECTION = "infection", "Infection"
    NERVE = "nerve", "Nerve"
    ORGAN_REFERRED = "organ_referred", "Organ-referred"
    FREE_TEXT = "free_text", "Found in the patient's own words"


def title_from_code(code: str) -> str:
    """A readable stand-in for a rule without a title (version 1's rules have none)."""
    return code.replace("_", " ").capitalize()


class RuleSetLockedError(FrozenError):
    """Raised on any attempt to change an active or retired rule set or its rules."""

    def __init__(self, rule_set):
        super().__init__(f"Rule set version {rule_set.version} is {rule_set.status}",
                         code="locked")


class RuleSet(FrozenWithOwner):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    # Activation and retirement are conditional bulk updates in screening.activation and
    # screening.services, which do not go through save() (core.immutability).
    FROZEN_STATUSES = (Status.ACTIVE, Status.RETIRED)

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
            unique("questionnaire", "version", name="unique_rule_set_version",
                   message="This questionnaire already has a rule set with that version number."),
            unique("questionnaire", name="one_active_rule_set_per_questionnaire",
                   when=models.Q(status="active"),
                   message="Another rule set is already active for this questionnaire."),
        ]
        permissions = [
            ("activate_ruleset", "Can sign off and activate a rule set (clinical safety officer)"),
            ("view_performance", "Can see how the screening performs (clinical lead)"),
        ]

    def __str__(self):
        return f"Rule set v{self.version} ({self.get_status_display().lower()})"

    def owner_key(self):
        return RuleSet, self.pk

    def frozen_error(self) -> RuleSetLockedError:
        return RuleSetLockedError(self)

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


class RuleSetPartQuerySet(FrozenQuerySet):
    """Refuses bulk updates and deletes that would touch an active or retired rule set's rules,
    derived values, score items or free-text terms."""

    owner_path = "rule_set"


class RuleSetPart(FrozenWithOwner):
    """Something that belongs to a rule set and is frozen with it (``core.immutability``):
    saved and deleted only while the rule set is a draft, and kept in its own history."""

    objects = RuleSetPartQuerySet.as_manager()
    history = HistoricalRecords(inherit=True)

    class Meta:
        abstract = True

    def owner_key(self):
        return RuleSet, self.owning_rule_set_id()

    def owning_rule_set_id(self) -> int | None:
        return self.rule_set_id


class Rule(RuleSetPart):
    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="rules")
    code = models.CharField(
        max_length=64,
        validators=[validate_code],
        help_text="Stable identifier of the rule, shown on flags (e.g. cardiac_chest_pain).",
    )
    title = models.CharField(
        max_length=120, blank=True,
        help_text="A few plain words clinicians read in the queue (e.g. Chest pain).",
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

    class Meta:
        ordering = ["rule_set_id", "position", "code"]
        constraints = [
            unique("rule_set", "code", name="unique_rule_code_per_rule_set",
                   message="Another rule in this rule set already uses this code."),
        ]

    def __str__(self):
        return self.code

    @property
    def display_title(self) -> str:
        return self.title or title_from_code(self.code)

    def rule_set_or_none(self) -> RuleSet | None:
        """The rule set, or None while it is not saved yet.  (In the admin's "add rule set" page
        rule_set_id is None but the inline form has attached the unsaved parent.)  Whether the
        condition fits the rule set is checked by ``screening.services.check_rule``."""
        if self.rule_set_id is None and not Rule._meta.get_field("rule_set").is_cached(self):
            return None
        return self.rule_set


class DerivedValue(RuleSetPart):
    """A named value that rules use besides the answers, defined in the rule set itself so that
    a clinician can review it in the admin: a yes/no condition (``autonomic``, ``new_pain``) or
    a score whose items and points are data (the Marburg Heart Score, ADD-RS, Wells).

    Derived values are computed in ``position`` order, so each may use the ones before it, and
    the built-in values ``age`` and ``free_text_match`` (see ``screening.engine``)."""

    class Kind(models.TextChoices):
        CONDITION = "condition", "Yes or no (a condition)"
        SCORE = "score", "Score (points for each item that holds)"

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="derived_values")
    name = models.CharField(
        max_length=64, validators=[validate_code],
        help_text="How rules refer to it, e.g. marburg_heart_score.",
    )
    title = models.CharField(max_length=120, help_text="Its name in plain words.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    condition = models.TextField(
        blank=True, help_text="For a yes/no value: when it is true, in the rule language.",
    )
    description = models.TextField(
        blank=True, help_text="What it means and where it comes from (guideline, instrument).",
    )
    position = models.PositiveIntegerField(default=0, db_index=True)

    class Meta:
        ordering = ["rule_set_id", "position", "name"]
        constraints = [
            unique("rule_set", "name", name="unique_derived_value_name_per_rule_set",
                   message="Another derived value in this rule set has this name."),
        ]

    def __str__(self):
        return self.name


class ScoreItemQuerySet(RuleSetPartQuerySet):
    owner_path = "derived_value__rule_set"


class ScoreItem(RuleSetPart):
    """One item of a score: when its condition holds, the score gains its points."""

    class Basis(models.TextChoices):
        ANSWER = "answer", "Patient answer"
        PROXY = "proxy", "Proxy for an examination finding"

    derived_value = models.ForeignKey(DerivedValue, on_delete=models.CASCADE, related_name="items")
    label = models.CharField(max_length=200, help_text="The item as the instrument names it.")
    condition = models.TextField(help_text="When the item scores, in the rule language.")
    points = models.DecimalField(
        max_digits=5, decimal_places=2, default=1,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Points when the item holds; always positive, so a score only ever raises.",
    )
    basis = models.CharField(
        max_length=10, choices=Basis.choices, default=Basis.ANSWER,
        help_text="Whether the patient's answer is the item itself or stands in for a finding "
        "that needs an examination or a measurement.",
    )
    position = models.PositiveIntegerField(default=0, db_index=True)

    objects = ScoreItemQuerySet.as_manager()

    class Meta:
        ordering = ["derived_value_id", "position", "pk"]

    def __str__(self):
        return self.label

    def owning_rule_set_id(self) -> int | None:
        if self.derived_value_id is None:
            return None
        return DerivedValue.objects.filter(pk=self.derived_value_id).values_list(
            "rule_set_id", flat=True).first()


class FreeTextTerm(RuleSetPart):
    """A word or phrase that, found in the patient's own text, puts the text in front of a
    clinician (``free_text_match``).  One word matches a whole word; a word ending in ``*``
    matches any word that starts with it; several words match in a row."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="free_text_terms")
    group = models.CharField(max_length=60, help_text="e.g. bleeding risk")
    term = models.CharField(
        max_length=80, validators=[validate_term],
        help_text="Lower-case words of letters and digits; end a word with * to match words "
        "that start with it (e.g. stent*, cough* up blood).",
    )

    class Meta:
        ordering = ["rule_set_id", "group", "term"]
        constraints = [
            unique("rule_set", "term", name="unique_free_text_term_per_rule_set",
                   message="This rule set already has this term."),
        ]

    def __str__(self):
        return self.term


class Flag(models.Model):
    """A rule that fired on a submission, frozen as it was: a clinician sees why the case is in
    the queue, and an auditor can reproduce the decision from the evidence and the rule set."""

    submission = models.ForeignKey(
        "intake.Submission", on_delete=models.CASCADE, related_name="flags"
    )
    rule_set = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="flags")
    rule_code = models.CharField(max_length=64)
    title = models.CharField(max_length=120, blank=True)
    category = models.CharField(max_length=20, choices=Category.choices)
    tier = models.CharField(max_length=10, choices=Tier.choices)
    explanation = models.TextField()
    evidence = models.JSONField(
        help_text="The answers that made the rule's condition true, by question code (null: "
        "not answered).  Rule set version 1's flags hold every answer the condition refers to."
    )
    derived = models.JSONField(
        default=list, blank=True,
        help_text="The derived values that made the condition true, each with its value and "
        "what it came from: age with the date of birth and submission date, a score with the "
        "items that scored, free-text matches with their term, group and field.",
    )
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Most urgent first, then by rule code."
    )

    class Meta:
        ordering = ["submission_id", "position"]
        constraints = [
            unique("submission", "rule_code", name="one_flag_per_rule_per_submission"),
        ]

    def __str__(self):
        return f"{self.rule_code} ({self.tier})"

    @property
    def display_title(self) -> str:
        return self.title or title_from_code(self.rule_code)


URGENCY_CHOICES = Urgency.choices


class SafetyCase(models.Model):
    """A clinical test case of a questionnaire: answers (and an age) with the urgency and the
    exact flags a safe rule set must give them.  Every activation runs them all
    (``screening.safety``): a rule set that screens any case less urgently than expected cannot
    go live.  Cases are edited, imported and exported in the admin, and their history kept."""

    questionnaire = models.ForeignKey(
        "intake.Questionnaire", on_delete=models.PROTECT, related_name="safety_cases"
    )
    name = models.CharField(
        max_length=40, validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                                                  "Letters, digits, dots, dashes and "
                                                  "underscores, e.g. v2-01.")],
        help_text="A short identifier, e.g. v2-01.",
    )
    description = models.TextField(help_text="The patient and their story, in a sentence or two.")
    note = models.TextField(blank=True, help_text="Why this case matters; what it protects.")
    source = models.CharField(
        max_length=300, blank=True,
        help_text="Where the case comes from: a published case report, the specification, an "
        "incident.",
    )
    age = models.PositiveSmallIntegerField(help_text="The patient's age on the day they submit.")
    answers = models.JSONField(help_text="The answers, by question code, as the API takes them.")
    expected_urgency = models.CharField(max_length=10, choices=URGENCY_CHOICES)
    expected_flags = models.JSONField(
        default=list, blank=True, help_text="The exact rule codes that must fire, as a list."
    )
    enabled = models.BooleanField(
        default=True, help_text="Switched-off cases are kept but not run at activation."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["questionnaire_id", "name"]
        constraints = [
            unique("questionnaire", "name", name="unique_safety_case_name",
                   message="This questionnaire already has a case with this name."),
        ]

    def __str__(self):
        return self.name


class SignOff(AppendOnly):
    """A clinical safety officer's sign-off of a rule set when it was activated: who, when, why,
    and the safety-case results and dry-run summary they saw.  Append-only."""

    append_only_name = "A sign-off"

    rule_set = models.OneToOneField(RuleSet, on_delete=models.PROTECT, related_name="sign_off")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True,
        blank=True,
    )
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField()
    warnings_acknowledged = models.BooleanField(default=False)
    results = models.JSONField(help_text="The safety-case report and dry-run summary.")

    class Meta:
        ordering = ["-at"]

    def __str__(self):
        return f"sign-off of {self.rule_set}"
