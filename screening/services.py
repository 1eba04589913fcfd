"""Rule sets at work: compiling them (cached), screening a submission's answers and recording
its flags, checking, drafting and activating rule sets, dry runs, and the check intake runs
before it publishes a questionnaire version.

What the submission service calls::

    result = screen_answers(submission.questionnaire_version, cleaned_answers)
    ...  # set result.urgency on the submission
    insert_new(submission, flags_to_store(result))  # one statement: the row and its flags

``screen_answers`` raises when it cannot screen (``ScreeningError``: no active rule set, an
answer missing or of the wrong type, a condition failing; ``RuleSetInvalid``: the active rule
set does not fit the submission's questionnaire version).  The caller then stores
``ScreeningResult.failure()`` (urgent, ``failed=True``).  No message raised here contains an
answer.

Compiled rule sets are cached per process (a small LRU).  The key depends on what can change:

- An active or retired rule set compiled against a published questionnaire version can never
  change again (both are immutable, down to the ORM), so it is keyed by identity: the rule set's
  id, version and creation time and the questionnaire version's id and publication time.  A
  cache hit costs no query beyond finding the active rule set.
- Anything else (a draft rule set, or a draft questionnaire version) is keyed by a hash of
  everything that goes into the compiled rule set: the rule set's id and version, every enabled
  rule's code, category, tier, condition and explanation, and the questions and choices.  A
  changed draft therefore has a new key and is never evaluated with stale conditions; looking
  the key up costs three small queries.
"""

import hashlib
import json
import threading
import zoneinfo
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Subquery
from rule_engine.types import DataType
from simple_history.utils import bulk_create_with_history

from core.db import Rows
from intake.models import Choice, QuestionnaireVersion, Submission
from intake.question_types import ConditionType
from intake.selectors import VersionSchema
from intake.services.questionnaires import next_number_for
from screening.conditions import ConditionError, compile_condition
from screening.engine import (
    BUILTIN_TITLES,
    BUILTIN_TYPES,
    FREE_TEXT_MATCH,
    URGENCY_RANK,
    CompiledDerived,
    CompiledRule,
    CompiledRuleSet,
    CompiledScoreItem,
    Facts,
    FreeTextMatcher,
    ScreeningError,
    ScreeningResult,
    rule_words,
    screen,
    words_of,
)
from screening.models import (
    Category,
    DerivedValue,
    Flag,
    FreeTextTerm,
    Rule,
    RuleSet,
    ScoreItem,
    Tier,
)


class NoActiveRuleSet(ScreeningError):
    """The questionnaire has no active rule set, so its submissions cannot be screened."""


class RuleSetInvalid(ValidationError):
    """A rule set's enabled rules, derived values or free-text terms do not all fit a
    questionnaire version.  ``problems`` maps each failing rule's code (or, for a derived value
    or term, its name in words) to its messages."""

    def __init__(self, problems: dict[str, list[str]]):
        self.problems = problems
        super().__init__(
            [f"{describe_problem_key(key).capitalize()}: {message}"
             for key, messages in problems.items() for message in messages],
            code="invalid",
        )


# --- Checking conditions and rule sets ------------------------------------------------------


def describe_problem_key(key: str) -> str:
    """A ``rule_set_problems`` key in words: a rule's code, or already words (“derived value
    …”, which a code, being letters, digits and underscores, can never look like)."""
    return key if "“" in key else f"rule “{key}”"


def condition_problems(
    condition: str, questionnaire_version: QuestionnaireVersion, *, rule_set: RuleSet | None = None
) -> list[str]:
    """Why ``condition`` cannot be used with ``questionnaire_version`` (and the derived values
    of ``rule_set``, when given); empty when it can."""
    schema = VersionSchema.read(questionnaire_version)
    types = _names_and_types(rule_set) if rule_set is not None else BUILTIN_TYPES
    try:
        compile_condition(condition, schema, types)
    except ConditionError as error:
        return error.messages
    return []


def check_rule(rule: Rule) -> None:
    """Raise ``ValidationError({"condition": problems})`` when the rule's condition does not fit
    its rule set: the questions and choices of its questionnaire version, and its derived
    values.  The admin's rule forms call this; nothing is checked before the rule set exists."""
    rule_set = rule.rule_set_or_none()
    if rule_set is None or rule_set.questionnaire_version_id is None or not rule.condition:
        return
    problems = condition_problems(rule.condition, rule_set.questionnaire_version,
                                  rule_set=rule_set if rule_set.pk else None)
    if problems:
        raise ValidationError({"condition": problems})


def _rule_problems(rule: Rule, schema: VersionSchema, types: dict) -> list[str]:
    problems = []
    if rule.tier not in Tier.values:
        problems.append(f"“{rule.tier}” is not a tier; use one of {', '.join(Tier.values)}.")
    if rule.category not in Category.values:
        problems.append(f"“{rule.category}” is not a category; use one of "
                        f"{', '.join(Category.values)}.")
    try:
        condition = compile_condition(rule.condition, schema, types)
    except ConditionError as error:
        problems.extend(error.messages)
    else:
        if FREE_TEXT_MATCH in condition.derived and rule.tier != Tier.SOON:
            problems.append(
                "free_text_match may only be used by a rule of tier “soon”: matching words "
                "cannot understand negation or context, so it must never page anyone. Ask a "
                "question for anything that should page."
            )
    return problems


def _enabled_rules(rule_set: RuleSet) -> list[Rule]:
    return list(Rule.objects.filter(rule_set=rule_set, enabled=True).order_by("position", "code"))


@dataclass(frozen=True)
class _Parts:
    """A rule set's derived values and free-text terms, compiled, and what is wrong with them."""

    derived: tuple[CompiledDerived, ...]
    free_text: FreeTextMatcher
    problems: dict[str, list[str]]  # keyed by what is wrong in words: derived value “name”
    fingerprint: list
    # Every name a condition may use and its type, the derived values that failed included,
    # so that one mistake in a derived value is reported once, not again by every rule.
    types: dict


def _compile_parts(rule_set: RuleSet, schema: VersionSchema) -> _Parts:
    types = dict(BUILTIN_TYPES)
    compiled, problems, fingerprint = [], {}, []
    values = (DerivedValue.objects.filter(rule_set=rule_set).order_by("position", "name")
              .prefetch_related("items"))
    for value in values:
        messages, derived = _compile_derived(value, schema, types)
        if messages:
            problems[f"derived value “{value.name}”"] = messages
        fingerprint.append([value.name, value.title, value.kind, value.condition,
                            [[i.label, i.condition, str(i.points), i.basis]
                             for i in value.items.all()]])
        # Known to the values after it even when it failed, so one mistake is reported once.
        types[value.name] = _derived_type(value.kind)
        if derived is not None:
            compiled.append(derived)
    terms = list(FreeTextTerm.objects.filter(rule_set=rule_set).order_by("group", "term")
                 .values_list("term", "group"))
    for term, _group in terms:
        if " ".join(words_of(term, keep_stars=True)) != term:
            problems[f"free-text term “{term}”"] = [
                "write it in lower case, letters and digits only, words separated by single "
                "spaces."]
    fingerprint.append(terms)
    return _Parts(derived=tuple(compiled), free_text=FreeTextMatcher.of(terms),
                  problems=problems, fingerprint=fingerprint, types=types)


def _derived_type(kind: str) -> DataType:
    return DataType.BOOLEAN if kind == DerivedValue.Kind.CONDITION else DataType.FLOAT


def _names_and_types(rule_set: RuleSet) -> dict:
    """``_compile_parts(rule_set, ...).types`` without compiling anything: the built-in values
    and every derived value of the rule set, each with its type (which its kind decides).  What
    checking one condition needs; the admin checks each rule of a rule set this way."""
    return dict(BUILTIN_TYPES) | {
        name: _derived_type(kind) for name, kind in DerivedValue.objects.filter(
            rule_set=rule_set).order_by("position", "name").values_list("name", "kind")}


def _compile_derived(
    value: DerivedValue, schema: VersionSchema, types: dict
) -> tuple[list[str], CompiledDerived | None]:
    messages = []
    if value.name in schema.questions or value.name in BUILTIN_TYPES:
        messages.append(f"“{value.name}” is already the name of a question or a built-in "
                        "value; choose another name.")
    try:
        if value.kind == DerivedValue.Kind.CONDITION:
            derived = CompiledDerived(name=value.name, title=value.title, kind=value.kind,
                                      condition=compile_condition(value.condition, schema, types))
        elif value.kind == DerivedValue.Kind.SCORE:
            items = [
                CompiledScoreItem(label=item.label, points=item.points, basis=item.basis,
                                  condition=compile_condition(item.condition, schema, types))
                for item in value.items.all()
            ]
            if not items:
                messages.append("a score needs at least one item.")
            if any(item.points <= 0 for item in items):
                messages.append("every item's points must be more than 0, so that a score can "
                                "only raise urgency.")
            derived = CompiledDerived(name=value.name, title=value.title, kind=value.kind,
                                      items=tuple(items))
        else:
            messages.append(f"“{value.kind}” is not a kind of derived value.")
            derived = None
    except ConditionError as error:
        messages.extend(error.messages)
        derived = None
    if derived is not None and FREE_TEXT_MATCH in {
        name for condition in derived.conditions() for name in condition.derived
    }:
        messages.append("free_text_match may only be used by rules of tier “soon”, not in a "
                        "derived value.")
    return messages, None if messages else derived


def rule_set_problems(
    rule_set: RuleSet, questionnaire_version: QuestionnaireVersion | None = None
) -> dict[str, list[str]]:
    """Why ``rule_set`` cannot screen answers to ``questionnaire_version`` (by default the
    version the rule set is checked against), keyed by rule code; problems of derived values
    and free-text terms are keyed by their own name in words (“derived value …”)."""
    schema = VersionSchema.read(questionnaire_version or rule_set.questionnaire_version)
    parts = _compile_parts(rule_set, schema)
    types = parts.types
    problems = dict(parts.problems)
    for rule in _enabled_rules(rule_set):
        messages = _rule_problems(rule, schema, types)
        if messages:
            problems[rule.code] = messages
    return problems


def check_questionnaire_version_against_active_rules(version: QuestionnaireVersion) -> None:
    """Refuse to let ``version`` become what patients answer if the questionnaire's active rule
    set needs a question code or choice value it lacks (or types a code differently).

    Called by ``intake.services.publishing.publish_version`` before publishing.  Raises
    ``ValidationError`` naming each rule and the code or value it needs.
    """
    active = RuleSet.objects.filter(
        questionnaire_id=version.questionnaire_id, status=RuleSet.Status.ACTIVE
    ).first()
    if active is None:
        return
    problems = rule_set_problems(active, version)
    if problems:
        raise ValidationError(
            [f"The active screening rules (rule set version {active.version}) cannot screen "
             f"this version: {describe_problem_key(code)}: {message}"
             for code, messages in problems.items() for message in messages],
            code="screening_rules",
        )


# --- Compiling, with the cache --------------------------------------------------------------


class _CompiledRuleSets:
    """A small thread-safe LRU of compiled rule sets, keyed by content hash."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[str, CompiledRuleSet] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> CompiledRuleSet | None:
        with self._lock:
            compiled = self._entries.get(key)
            if compiled is not None:
                self._entries.move_to_end(key)
            return compiled

    def put(self, compiled: CompiledRuleSet) -> None:
        with self._lock:
            self._entries[compiled.key] = compiled
            self._entries.move_to_end(compiled.key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_compiled = _CompiledRuleSets(size=32)


def clear_compiled_cache() -> None:
    """Forget every compiled rule set (for tests and benchmarks; never needed for correctness)."""
    _compiled.clear()


def _frozen_key(rule_set: RuleSet, version: QuestionnaireVersion) -> str | None:
    """The identity key of a pairing that can never change, or None.  Both statuses only ever
    move away from draft, so a stale instance can only make this None, never wrong.  The
    timestamps keep a key from outliving its rows (ids can be reused after a rollback)."""
    if rule_set.status == RuleSet.Status.DRAFT or not version.is_published:
        return None
    return (f"frozen:{rule_set.pk}:{rule_set.version}:{rule_set.created_at.isoformat()}:"
            f"{version.pk}:{version.published_at.isoformat() if version.published_at else ''}")


def _content_key(
    rule_set: RuleSet, rules: list[Rule], schema: VersionSchema, parts: _Parts
) -> str:
    content = {
        "rule_set": [rule_set.pk, rule_set.version],
        "rules": [[r.code, r.title, r.category, r.tier, r.condition, r.explanation]
                  for r in rules],
        "parts": parts.fingerprint,
        "questionnaire_version": schema.version_id,
        "questions": schema.fingerprint(),
    }
    canonical = json.dumps(content, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def compile_rule_set(
    rule_set: RuleSet, questionnaire_version: QuestionnaireVersion | None = None
) -> CompiledRuleSet:
    """The enabled rules of ``rule_set``, checked against ``questionnaire_version`` (by default
    the version the rule set is checked against) and ready for ``screen``.

    Raises ``RuleSetInvalid`` naming every rule that does not fit.
    """
    version = questionnaire_version or rule_set.questionnaire_version
    key = _frozen_key(rule_set, version)
    compiled = _compiled.get(key) if key else None
    if compiled is not None:
        return compiled
    rules = _enabled_rules(rule_set)
    schema = VersionSchema.read(version)
    parts = _compile_parts(rule_set, schema)
    key = key or _content_key(rule_set, rules, schema, parts)
    compiled = _compiled.get(key)
    if compiled is not None:
        return compiled
    problems = dict(parts.problems)
    types = parts.types
    compiled_rules = []
    for rule in rules:
        messages = _rule_problems(rule, schema, types)
        if messages:
            problems[rule.code] = messages
            continue
        compiled_rules.append(CompiledRule(
            **rule_words(rule), condition=compile_condition(rule.condition, schema, types),
        ))
    if problems:
        raise RuleSetInvalid(problems)
    compiled = CompiledRuleSet(
        rule_set_id=rule_set.pk, version=rule_set.version, schema=schema,
        rules=tuple(compiled_rules), key=key, derived=parts.derived, free_text=parts.free_text,
    )
    _compiled.put(compiled)
    return compiled


def active_rule_set_for(questionnaire_version: QuestionnaireVersion) -> CompiledRuleSet:
    """The questionnaire's active rule set, compiled against ``questionnaire_version`` (the
    version the patient answered, so every rule is checked against exactly those questions).

    Raises ``NoActiveRuleSet`` or ``RuleSetInvalid``.
    """
    # At most one is active (a database constraint); order by pk to keep the query cheap.
    rule_set = RuleSet.objects.filter(
        questionnaire_id=questionnaire_version.questionnaire_id, status=RuleSet.Status.ACTIVE
    ).order_by("pk").first()
    if rule_set is None:
        raise NoActiveRuleSet(
            f"questionnaire {questionnaire_version.questionnaire_id} has no active rule set"
        )
    return compile_rule_set(rule_set, questionnaire_version)


def active_rule_set_columns(questionnaire_slug: str) -> dict[str, Subquery]:
    """Which rule set of the questionnaire is active (its id, version and creation time), as
    subqueries to read beside other things in one query; ``compiled_active`` takes the row."""
    active = RuleSet.objects.filter(questionnaire__slug=questionnaire_slug,
                                    status=RuleSet.Status.ACTIVE).order_by("pk")
    return {f"rule_set_{name}": Subquery(active.values(name)[:1])
            for name in ("pk", "version", "created_at")}


def compiled_active(questionnaire_version: QuestionnaireVersion, row) -> CompiledRuleSet:
    """The active rule set that ``active_rule_set_columns`` read into ``row`` (an object with
    those attributes), compiled against ``questionnaire_version``: from this process's compiled
    rule sets when it is there, so screening reads nothing more.  Raises ``NoActiveRuleSet``
    or ``RuleSetInvalid``, as ``active_rule_set_for`` does."""
    if row.rule_set_pk is None:
        raise NoActiveRuleSet(
            f"questionnaire {questionnaire_version.questionnaire_id} has no active rule set"
        )
    named = RuleSet(pk=row.rule_set_pk, version=row.rule_set_version,
                    created_at=row.rule_set_created_at, status=RuleSet.Status.ACTIVE)
    key = _frozen_key(named, questionnaire_version)
    compiled = _compiled.get(key) if key else None
    if compiled is not None:
        return compiled
    return compile_rule_set(RuleSet.objects.get(pk=row.rule_set_pk), questionnaire_version)


# --- Screening a submission -----------------------------------------------------------------


def screen_answers(
    questionnaire_version: QuestionnaireVersion, answers: dict, facts: Facts | None = None,
    *, active=None,
) -> ScreeningResult:
    """Screen cleaned answers to ``questionnaire_version`` with the active rule set: the one
    ``active`` names when given (a row read with ``active_rule_set_columns``), else the one
    active now."""
    rule_set = (active_rule_set_for(questionnaire_version) if active is None
                else compiled_active(questionnaire_version, active))
    return screen(answers, rule_set, facts or Facts())


def facts_of(submission: Submission) -> Facts:
    """What screening needs of a stored (or about to be stored) submission besides its answers:
    the date of birth, and the submission's date in its clinic's time zone."""
    local = submission.submitted_at.astimezone(zoneinfo.ZoneInfo(submission.clinic.timezone))
    return Facts(date_of_birth=submission.date_of_birth, submitted_on=local.date())


FLAG_FIELDS = ("rule_set", "rule_code", "title", "category", "tier", "explanation", "evidence",
               "derived", "position")


def flags_to_store(result: ScreeningResult) -> Rows:
    """The result's flags as rows for ``core.db.insert_new`` to store with their submission, in
    the same statement.  A failed screening has no flags, so nothing is stored for it."""
    return Rows(Flag, "submission", FLAG_FIELDS, [] if result.failed else [
        (result.rule_set_id, flag.code, flag.title, flag.category, flag.tier, flag.explanation,
         flag.evidence, list(flag.derived), position)
        for position, flag in enumerate(result.flags)])


def record_flags(submission: Submission, result: ScreeningResult) -> None:
    """Store the result's flags for a submission stored already (call it in the submission's
    transaction)."""
    flags_to_store(result).insert_for(submission.pk)


# --- Drafting and activating ----------------------------------------------------------------


def current_published_version(questionnaire_id: int) -> QuestionnaireVersion | None:
    """The questionnaire's highest-numbered published version: what patients answer now."""
    return (QuestionnaireVersion.objects.published().filter(questionnaire_id=questionnaire_id)
            .order_by("-number").first())


def next_version_number(questionnaire_id: int) -> int:
    """The number a new rule set of the questionnaire takes, with the questionnaire locked
    until the caller's transaction ends (``intake.services.questionnaires.next_number_for``)."""
    return next_number_for(
        questionnaire_id, RuleSet.objects.filter(questionnaire_id=questionnaire_id), "version")


def create_draft_from(
    rule_set: RuleSet,
    *,
    by=None,
    questionnaire_version: QuestionnaireVersion | None = None,
) -> RuleSet:
    """Copy ``rule_set`` (any status), its rules, derived values and free-text terms into a new
    draft, numbered after the questionnaire's latest rule set, checked against
    ``questionnaire_version``: by default the version patients answer now, since that is what
    the draft will screen once active (a rule that needs a question the current version lacks
    shows up at once as a problem of the draft, not at activation)."""
    version = (questionnaire_version or current_published_version(rule_set.questionnaire_id)
               or rule_set.questionnaire_version)
    if version.questionnaire_id != rule_set.questionnaire_id:
        raise ValidationError("A draft must be checked against a version of the same "
                              "questionnaire.", code="questionnaire")
    with transaction.atomic():
        draft = RuleSet(
            questionnaire_id=rule_set.questionnaire_id,
            questionnaire_version=version,
            version=next_version_number(rule_set.questionnaire_id),
            based_on=rule_set,
            notes=f"Copied from rule set version {rule_set.version}.",
        )
        if by is not None:
            draft._history_user = by
        draft.save()
        reason = f"copied from rule set version {rule_set.version}"
        bulk_create_with_history(
            [
                Rule(rule_set=draft, code=r.code, title=r.title, category=r.category,
                     tier=r.tier, condition=r.condition, explanation=r.explanation,
                     enabled=r.enabled, position=r.position)
                for r in rule_set.rules.order_by("position", "code")
            ],
            Rule, default_user=by, default_change_reason=reason,
        )
        _copy_parts(rule_set, draft, by=by, reason=reason)
    return draft


def _copy_parts(rule_set: RuleSet, draft: RuleSet, *, by, reason: str) -> None:
    """Copy the derived values, their score items and the free-text terms into ``draft``."""
    originals = list(rule_set.derived_values.order_by("position", "name")
                     .prefetch_related("items"))
    bulk_create_with_history(
        [DerivedValue(rule_set=draft, name=d.name, title=d.title, kind=d.kind,
                      condition=d.condition, description=d.description, position=d.position)
         for d in originals],
        DerivedValue, default_user=by, default_change_reason=reason,
    )
    copy_ids = dict(DerivedValue.objects.filter(rule_set=draft).values_list("name", "pk"))
    bulk_create_with_history(
        [ScoreItem(derived_value_id=copy_ids[d.name], label=i.label, condition=i.condition,
                   points=i.points, basis=i.basis, position=i.position)
         for d in originals for i in d.items.all()],
        ScoreItem, default_user=by, default_change_reason=reason,
    )
    bulk_create_with_history(
        [FreeTextTerm(rule_set=draft, group=t.group, term=t.term)
         for t in rule_set.free_text_terms.all()],
        FreeTextTerm, default_user=by, default_change_reason=reason,
    )


# --- Dry runs -------------------------------------------------------------------------------

UP, DOWN, SAME, FAILED = "up", "down", "same", "failed"


@dataclass(frozen=True)
class DryRunRow:
    reference: str
    submitted_at: datetime
    current_urgency: str
    current_failed: bool
    new_urgency: str | None  # None when the rule set could not screen it
    change: str  # UP (more urgent), DOWN, SAME or FAILED
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    error: str = ""
    # The derived values that hold (true, or a score above 0), as (title, value).
    values: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class DryRunReport:
    rule_set: RuleSet
    rows: tuple[DryRunRow, ...]

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(row.change for row in self.rows)
        return {change: counted.get(change, 0) for change in (UP, DOWN, SAME, FAILED)}

    @property
    def changed(self) -> tuple[DryRunRow, ...]:
        return tuple(r for r in self.rows if r.change != SAME or r.added or r.removed)

    @property
    def by_rule(self) -> list[tuple[str, int, int]]:
        """(rule code, submissions it now flags, submissions it no longer flags) for each rule
        that changed a result, most changes first: the rule to look at after an edit."""
        added = Counter(code for row in self.rows for code in row.added)
        removed = Counter(code for row in self.rows for code in row.removed)
        return sorted(((code, added[code], removed[code]) for code in set(added) | set(removed)),
                      key=lambda item: (-(item[1] + item[2]), item[0]))


def dry_run(rule_set: RuleSet, *, limit: int = 100) -> DryRunReport:
    """Screen the questionnaire's ``limit`` most recent submissions with ``rule_set`` (any
    status; nothing is stored) and compare with how they were screened when submitted."""
    submissions = (
        Submission.objects.filter(questionnaire_version__questionnaire_id=rule_set.questionnaire_id)
        .select_related("questionnaire_version", "clinic")
        .prefetch_related("flags")
        .order_by("-submitted_at", "-pk")[:limit]
    )
    compiled_by_version: dict[int, CompiledRuleSet | str] = {}
    rows = []
    for submission in submissions:
        version_id = submission.questionnaire_version_id
        if version_id not in compiled_by_version:
            try:
                compiled_by_version[version_id] = compile_rule_set(
                    rule_set, submission.questionnaire_version
                )
            except RuleSetInvalid as error:
                compiled_by_version[version_id] = _why_it_cannot_screen(
                    rule_set, submission.questionnaire_version, error)
        rows.append(_dry_run_row(submission, compiled_by_version[version_id]))
    return DryRunReport(rule_set=rule_set, rows=tuple(rows))


def _why_it_cannot_screen(
    rule_set: RuleSet, version: QuestionnaireVersion, error: RuleSetInvalid
) -> str:
    """In words an admin acts on: "answered on questionnaire version 1, which has no question
    medicines, heart_conditions", when that is the reason; else the rule set's own problems."""
    try:
        own = compile_rule_set(rule_set)
    except RuleSetInvalid:
        return " ".join(error.messages)
    conditions = [rule.condition for rule in own.rules]
    conditions += [c for derived in own.derived for c in derived.conditions()]
    used = {code for condition in conditions for code in condition.codes}
    missing = sorted(used - set(VersionSchema.read(version).questions))
    if not missing:
        return " ".join(error.messages)
    return (f"answered on questionnaire version {version.number}, which has no question "
            f"{', '.join(missing)} (rule set version {rule_set.version} is for version "
            f"{rule_set.questionnaire_version.number})")


def _dry_run_row(submission: Submission, compiled) -> DryRunRow:
    current = {
        "reference": submission.reference,
        "submitted_at": submission.submitted_at,
        "current_urgency": submission.urgency,
        "current_failed": submission.screening_failed,
    }
    if isinstance(compiled, str):
        return DryRunRow(**current, new_urgency=None, change=FAILED, error=compiled)
    try:
        result = screen(submission.answers, compiled, facts_of(submission))
    except ScreeningError as error:
        return DryRunRow(**current, new_urgency=None, change=FAILED, error=str(error))
    before = {flag.rule_code for flag in submission.flags.all()}
    after = set(result.flag_codes)
    now_rank, then_rank = URGENCY_RANK[result.urgency], URGENCY_RANK[submission.urgency]
    change = UP if now_rank < then_rank else DOWN if now_rank > then_rank else SAME
    return DryRunRow(
        **current,
        new_urgency=result.urgency,
        change=change,
        added=tuple(sorted(after - before)),
        removed=tuple(sorted(before - after)),
        values=tuple((title, value) for _name, title, value in result.derived_values
                     if value is not False and value != 0),
    )


# --- What the rule builder offers ---------------------------------------------------------


def rule_vocabulary(rule_set: RuleSet) -> list[dict[str, Any]]:
    """What a rule of ``rule_set`` may ask about, for the admin's rule builder: the questions
    of its questionnaire version in form order, then the built-in values (``age``,
    ``free_text_match``) and the rule set's derived values.

    Each is ``{"name", "title", "kind", "nullable", "choices"}``: ``kind`` is ``yes_no``,
    ``number``, ``one_choice`` or ``choices`` (text answers are left out: only
    ``free_text_match`` reads them), ``nullable`` whether an unanswered optional question is
    null (so a comparison must allow for it), ``choices`` the ``[value, label]`` pairs.  The
    builder only writes the condition; ``check_rule`` judges it as if it had been typed.
    """
    if rule_set.questionnaire_version_id is None:
        return []
    schema = VersionSchema.read(rule_set.questionnaire_version)
    labels = {
        (code, value): label
        for code, value, label in Choice.objects.filter(
            question__version_id=rule_set.questionnaire_version_id
        ).values_list("question__code", "value", "label")
    }
    vocabulary = []
    for spec in schema.questions.values():
        kind = _BUILDER_KINDS.get(spec.kind.condition_type)
        if kind is None:
            continue
        vocabulary.append({
            "name": spec.code, "title": spec.text, "kind": kind,
            "nullable": spec.kind.unanswered is None and not spec.always_answered,
            "choices": [[value, labels.get((spec.code, value), value)] for value in spec.choices],
        })
    for name, data_type in BUILTIN_TYPES.items():
        vocabulary.append({"name": name, "title": BUILTIN_TITLES[name],
                           "kind": "yes_no" if data_type == DataType.BOOLEAN else "number",
                           "nullable": False, "choices": []})
    for derived in rule_set.derived_values.order_by("position", "name"):
        vocabulary.append({
            "name": derived.name, "title": derived.title,
            "kind": "yes_no" if derived.kind == DerivedValue.Kind.CONDITION else "number",
            "nullable": False, "choices": [],
        })
    return vocabulary


# How the builder offers each kind of answer; text answers are not offered (see above).
_BUILDER_KINDS = {
    ConditionType.YES_NO: "yes_no",
    ConditionType.NUMBER: "number",
    ConditionType.ONE_CHOICE: "one_choice",
    ConditionType.CHOICES: "choices",
}
