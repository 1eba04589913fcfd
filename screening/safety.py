"""Clinical safety cases: running them against a rule set, and moving them in and out as JSON.

``safety_report(rule_set)`` screens every enabled safety case of the rule set's questionnaire
with the rule set (nothing is stored) and compares the result with what the case expects:

- ``lower``: screened less urgently than expected.  This **blocks** activation: a rule edit
  that un-catches a case cannot go live.  The report names the rules of the active rule set
  that do catch it, so the activator sees what was lost.
- ``error``: the rule set cannot screen the case at all (its answers do not fit the rule set's
  questionnaire version, say).  Also blocks: a case that cannot run proves nothing.
- ``higher`` (more urgent) and ``flags`` (same urgency, another set of flags): warnings the
  activator must acknowledge.
- ``pass``: exactly the expected urgency and flags.

Activation itself (``screening.activation.activate_rule_set``) runs the report; the admin shows
it before asking for the sign-off.
"""

import datetime
import json
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from intake.models import QuestionnaireVersion, age_on
from screening.engine import URGENCY_RANK, Facts, ScreeningError, screen
from screening.models import URGENCY_CHOICES, RuleSet, SafetyCase
from screening.services import RuleSetInvalid, compile_rule_set

PASS, LOWER, HIGHER, FLAGS, ERROR = "pass", "lower", "higher", "flags", "error"
BLOCKING = (LOWER, ERROR)
# The day a case is screened on: fixed, so a case gives the same result every day.
CASE_DATE = datetime.date(2026, 1, 15)


def case_facts(age: int) -> Facts:
    """A date of birth that makes the patient exactly ``age`` on ``CASE_DATE``."""
    born = CASE_DATE.replace(year=CASE_DATE.year - age) - datetime.timedelta(days=1)
    assert age_on(born, CASE_DATE) == age
    return Facts(date_of_birth=born, submitted_on=CASE_DATE)


@dataclass(frozen=True)
class CaseResult:
    name: str
    description: str
    expected_urgency: str
    expected_flags: tuple[str, ...]
    outcome: str  # PASS, LOWER, HIGHER, FLAGS or ERROR
    urgency: str | None = None
    flags: tuple[str, ...] = ()
    error: str = ""
    caught_by_active: tuple[str, ...] = ()  # for LOWER: the active set's rules that catch it

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.expected_flags) - set(self.flags)))

    @property
    def extra(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.flags) - set(self.expected_flags)))

    def as_json(self) -> dict[str, Any]:
        return {"case": self.name, "outcome": self.outcome, "expected": self.expected_urgency,
                "urgency": self.urgency, "missing": list(self.missing),
                "extra": list(self.extra), "error": self.error,
                "caught_by_active": list(self.caught_by_active)}


@dataclass(frozen=True)
class SafetyReport:
    rule_set: RuleSet
    results: tuple[CaseResult, ...] = field(default_factory=tuple)

    def of(self, *outcomes: str) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if r.outcome in outcomes)

    @property
    def blocking(self) -> tuple[CaseResult, ...]:
        return self.of(*BLOCKING)

    @property
    def warnings(self) -> tuple[CaseResult, ...]:
        return self.of(HIGHER, FLAGS)

    @property
    def counts(self) -> dict[str, int]:
        return {outcome: len(self.of(outcome)) for outcome in (PASS, LOWER, ERROR, HIGHER, FLAGS)}

    def as_json(self) -> dict[str, Any]:
        return {"rule_set_version": self.rule_set.version, "cases": len(self.results),
                "counts": self.counts,
                "not_passed": [r.as_json() for r in self.results if r.outcome != PASS]}


def safety_report(rule_set: RuleSet) -> SafetyReport:
    """Screen every enabled safety case of the questionnaire with ``rule_set``."""
    cases = list(SafetyCase.objects.filter(questionnaire_id=rule_set.questionnaire_id,
                                           enabled=True).order_by("name"))
    try:
        compiled = compile_rule_set(rule_set)
    except RuleSetInvalid as error:
        return SafetyReport(rule_set, tuple(
            _result(case, ERROR, error=" ".join(error.messages)) for case in cases))
    active = _active_compiled(rule_set)
    return SafetyReport(rule_set, tuple(_run(case, compiled, active) for case in cases))


def _active_compiled(rule_set: RuleSet):
    active = RuleSet.objects.filter(questionnaire_id=rule_set.questionnaire_id,
                                    status=RuleSet.Status.ACTIVE).exclude(pk=rule_set.pk).first()
    if active is None:
        return None
    try:
        return compile_rule_set(active, rule_set.questionnaire_version)
    except RuleSetInvalid:
        return None


def _result(case: SafetyCase, outcome: str, **details) -> CaseResult:
    return CaseResult(name=case.name, description=case.description,
                      expected_urgency=case.expected_urgency,
                      expected_flags=tuple(sorted(case.expected_flags)), outcome=outcome,
                      **details)


def _run(case: SafetyCase, compiled, active) -> CaseResult:
    try:
        result = screen(case.answers, compiled, case_facts(case.age))
    except ScreeningError as error:
        return _result(case, ERROR, error=f"could not be screened: {error}")
    flags = tuple(sorted(result.flag_codes))
    got, wanted = URGENCY_RANK[result.urgency], URGENCY_RANK[case.expected_urgency]
    if got > wanted:
        return _result(case, LOWER, urgency=result.urgency, flags=flags,
                       caught_by_active=_caught_by(case, active))
    if got < wanted:
        outcome = HIGHER
    elif set(flags) != set(case.expected_flags):
        outcome = FLAGS
    else:
        outcome = PASS
    return _result(case, outcome, urgency=result.urgency, flags=flags)


def _caught_by(case: SafetyCase, active) -> tuple[str, ...]:
    """The rules of the active set that give the case its expected urgency or more."""
    if active is None:
        return ()
    try:
        result = screen(case.answers, active, case_facts(case.age))
    except ScreeningError:
        return ()
    wanted = URGENCY_RANK[case.expected_urgency]
    return tuple(f.code for f in result.flags if URGENCY_RANK[f.tier] <= wanted)


# --- JSON in and out ------------------------------------------------------------------------

FIELDS = ("name", "description", "note", "source", "age", "answers", "expected_urgency",
          "expected_flags", "enabled")


def export_cases(questionnaire_id: int) -> list[dict[str, Any]]:
    """The questionnaire's safety cases as JSON-ready dicts (what ``import_cases`` takes)."""
    return [{name: getattr(case, name) for name in FIELDS}
            for case in SafetyCase.objects.filter(questionnaire_id=questionnaire_id)
            .order_by("name")]


class CasesInvalid(ValidationError):
    """An import was refused; nothing was stored.  ``messages`` name each problem."""


def import_cases(questionnaire_id: int, data: Any, *, by=None) -> tuple[int, int]:
    """Add or update cases from ``data`` (a list of case objects, by ``name``; the shared
    ``vignettes`` form with ``id`` instead of ``name`` is taken too).  All or nothing.

    Returns (added, updated).  Raises ``CasesInvalid`` naming every problem.
    """
    if not isinstance(data, list):
        raise CasesInvalid("Send a JSON list of cases.")
    problems, cleaned = [], []
    urgencies = {value for value, _label in URGENCY_CHOICES}
    version = (QuestionnaireVersion.objects.published().filter(questionnaire_id=questionnaire_id)
               .order_by("-number").first())
    for position, item in enumerate(data, start=1):
        where = f"Case {position}"
        if not isinstance(item, dict):
            problems.append(f"{where}: is not an object.")
            continue
        name = item.get("name", item.get("id"))
        where = f"Case {position} ({name})" if isinstance(name, str) else where
        case = SafetyCase(
            questionnaire_id=questionnaire_id, name=name,
            description=item.get("description", ""), note=item.get("note", ""),
            source=item.get("source", ""), age=item.get("age"),
            answers=item.get("answers"), expected_urgency=item.get("expected_urgency"),
            expected_flags=sorted(item.get("expected_flags") or []),
            enabled=item.get("enabled", True),
        )
        problems.extend(f"{where}: {message}" for message in _case_problems(case, urgencies,
                                                                              version))
        cleaned.append(case)
    names = [case.name for case in cleaned]
    problems.extend(f"“{name}” appears more than once." for name in sorted(set(names))
                    if names.count(name) > 1)
    if problems:
        raise CasesInvalid(problems)
    added = updated = 0
    with transaction.atomic():
        existing = {case.name: case for case in
                    SafetyCase.objects.select_for_update().filter(questionnaire_id=questionnaire_id)}
        for case in cleaned:
            if case.name in existing:
                case.pk = existing[case.name].pk
                updated += 1
            else:
                added += 1
            case._history_user = by
            case._change_reason = "imported"
            case.save()
    return added, updated


def _case_problems(case: SafetyCase, urgencies: set, version) -> list[str]:
    problems = []
    try:
        case.full_clean(exclude=["questionnaire", "answers", "expected_flags"],
                        validate_unique=False)
    except ValidationError as error:
        problems.extend(f"{field}: {' '.join(messages)}"
                        for field, messages in error.message_dict.items())
    if not isinstance(case.answers, dict):
        problems.append("answers: send an object of answers by question code.")
    elif version is not None:
        unknown = sorted(set(case.answers) - {q.code for q in version.questions.all()})
        if unknown:
            problems.append(f"answers: version {version.number} has no question "
                            f"{', '.join(unknown)}.")
    if not all(isinstance(code, str) for code in case.expected_flags):
        problems.append("expected_flags: send a list of rule codes.")
    if case.expected_urgency not in urgencies:
        problems.append(f"expected_urgency: use one of {', '.join(sorted(urgencies))}.")
    return problems


def dumps(cases: list[dict]) -> str:
    return json.dumps(cases, indent=2, ensure_ascii=False) + "\n"
