"""Activating a rule set: the clinical safety gate, the sign-off, and the switch itself.

A rule set goes live only through ``activate_rule_set``, which

1. refuses a user without the clinical safety officer permission (``activate_ruleset``);
2. checks every enabled rule against the rule set's questionnaire version and the version
   patients answer now (``activation_problems``);
3. runs every safety case (``screening.safety``): any case screened less urgently than expected,
   or that cannot be screened, blocks activation; a more urgent result or another set of flags
   is a warning, and so is a dry run over recent submissions that could not screen some of
   them; warnings must be acknowledged;
4. needs a sign-off reason, and stores the sign-off with the results the activator saw (a
   ``SignOff`` row, and a line in the audit trail);
5. then retires the active rule set and activates this one, with conditional updates.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from clinic import audit
from clinic.models import AuditEvent
from intake.models import Questionnaire
from screening.models import Rule, RuleSet, SignOff
from screening.safety import SafetyReport, safety_report
from screening.services import (
    FAILED,
    current_published_version,
    describe_problem_key,
    dry_run,
    rule_set_problems,
)

PERMISSION = "screening.activate_ruleset"
DRY_RUN_LIMIT = 100


def activation_problems(rule_set: RuleSet) -> list[str]:
    """Why ``rule_set`` cannot become active: it has no enabled rule, or a rule does not fit the
    questionnaire version it is checked against or the version patients answer now."""
    if not Rule.objects.filter(rule_set=rule_set, enabled=True).exists():
        return ["The rule set has no enabled rules; activating it would flag nothing."]
    versions = [rule_set.questionnaire_version]
    current = current_published_version(rule_set.questionnaire_id)
    if current is not None and current.pk != rule_set.questionnaire_version_id:
        versions.append(current)
    problems = []
    for version in versions:
        for code, messages in rule_set_problems(rule_set, version).items():
            problems.extend(
                f"Questionnaire version {version.number}: {describe_problem_key(code)}: "
                f"{message}"
                for message in messages
            )
    return problems


@dataclass(frozen=True)
class ActivationCheck:
    """What an activator must see before signing off."""

    problems: tuple[str, ...]  # the rule set cannot be activated at all
    safety: SafetyReport
    dry_run_failures: int  # recent submissions the rule set could not screen
    dry_run_screened: int

    @property
    def blocked(self) -> bool:
        return bool(self.problems or self.safety.blocking)

    @property
    def warnings(self) -> list[str]:
        found = [
            f"Safety case {r.name} ({r.description}): expected {r.expected_urgency}, screened "
            f"{r.urgency}; " + _flag_difference(r)
            for r in self.safety.warnings
        ]
        if self.dry_run_failures:
            found.append(f"The dry run could not screen {self.dry_run_failures} of the "
                         f"{self.dry_run_screened} most recent submissions (see the dry run for "
                         "why).")
        return found

    def as_json(self) -> dict:
        return {"safety_cases": self.safety.as_json(),
                "dry_run": {"screened": self.dry_run_screened, "failed": self.dry_run_failures},
                "warnings": self.warnings}


def _flag_difference(result) -> str:
    parts = []
    if result.missing:
        parts.append(f"missing {', '.join(result.missing)}")
    if result.extra:
        parts.append(f"also {', '.join(result.extra)}")
    return "; ".join(parts) or "same flags"


def check_activation(rule_set: RuleSet) -> ActivationCheck:
    """Everything the gate looks at, without changing anything."""
    problems = tuple(activation_problems(rule_set)) if rule_set.is_draft else (
        f"Rule set version {rule_set.version} is {rule_set.status}; only a draft can be "
        "activated. Create a new draft from it instead.",)
    report = dry_run(rule_set, limit=DRY_RUN_LIMIT)
    return ActivationCheck(problems=problems, safety=safety_report(rule_set),
                           dry_run_failures=report.counts[FAILED],
                           dry_run_screened=len(report.rows))


class ActivationRefused(ValidationError):
    """The gate refused: ``check`` says why."""

    def __init__(self, messages: list[str], check: ActivationCheck | None = None):
        super().__init__(messages, code="refused")
        self.check = check


def activate_rule_set(
    rule_set: RuleSet, *, by, reason: str, acknowledge_warnings: bool = False
) -> RuleSet:
    """Sign off and activate a draft (see the module docstring).

    Raises ``PermissionDenied`` for a user who is not a clinical safety officer, and
    ``ActivationRefused`` naming every reason when the rule set may not go live.
    """
    if by is None or not by.has_perm(PERMISSION):
        raise PermissionDenied("Only a clinical safety officer can activate a rule set.")
    reason = (reason or "").strip()
    with transaction.atomic():
        # One activation per questionnaire at a time.
        Questionnaire.objects.select_for_update().get(pk=rule_set.questionnaire_id)
        current = RuleSet.objects.select_related("questionnaire_version").get(pk=rule_set.pk)
        check = check_activation(current)
        refusals = list(check.problems)
        refusals += [_blocking_message(r) for r in check.safety.blocking]
        if not reason:
            refusals.append("Write why this rule set is safe to go live (the sign-off reason).")
        if check.warnings and not acknowledge_warnings:
            refusals.append("Read and acknowledge the warnings: " + " ".join(check.warnings))
        if refusals:
            raise ActivationRefused(refusals, check)
        _switch(current, by=by)
        SignOff.objects.create(rule_set=current, by=by, reason=reason,
                               warnings_acknowledged=bool(check.warnings),
                               results=check.as_json())
        counts = check.safety.counts
        audit.record(by, AuditEvent.Action.ADMIN_CHANGE, detail=(
            f"signed off and activated rule set v{current.version}: "
            f"{len(check.safety.results)} safety cases, {counts['pass']} exactly as expected, "
            f"{len(check.warnings)} warnings acknowledged"))
    rule_set.refresh_from_db()
    return rule_set


def _blocking_message(result) -> str:
    if result.error:
        return f"Safety case {result.name} ({result.description}) {result.error}"
    caught = (f" The active rule set catches it with {', '.join(result.caught_by_active)}."
              if result.caught_by_active else "")
    return (f"Safety case {result.name} ({result.description}) must be {result.expected_urgency} "
            f"but is screened {result.urgency}.{caught}")


def _switch(current: RuleSet, *, by) -> None:
    """Retire the active rule set and activate ``current``, written to the history."""
    now = timezone.now()
    previous_ids = list(RuleSet.objects.filter(
        questionnaire_id=current.questionnaire_id, status=RuleSet.Status.ACTIVE
    ).values_list("pk", flat=True))
    RuleSet.objects.filter(pk__in=previous_ids, status=RuleSet.Status.ACTIVE).update(
        status=RuleSet.Status.RETIRED, retired_at=now
    )
    activated = RuleSet.objects.filter(pk=current.pk, status=RuleSet.Status.DRAFT).update(
        status=RuleSet.Status.ACTIVE, activated_at=now
    )
    if activated != 1:  # pragma: no cover - the questionnaire lock makes this unreachable
        raise ValidationError("The rule set was changed by someone else; try again.")
    RuleSet.history.bulk_history_create(
        list(RuleSet.objects.filter(pk__in=previous_ids)), update=True, default_user=by,
        default_change_reason=f"retired: version {current.version} activated",
        default_date=now,
    )
    RuleSet.history.bulk_history_create(
        [RuleSet.objects.get(pk=current.pk)], update=True, default_user=by,
        default_change_reason="activated", default_date=now,
    )
