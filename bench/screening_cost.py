"""What screening one submission costs with the active default rule set (version 2: 63 rules,
24 derived values and scores, the free-text check).

Run from the project root::

    .venv/bin/python bench/screening_cost.py [--submissions 20000] [--seed 1] [--rule-set 1]

It builds a private in-memory SQLite database with ``migrate`` (so the default questionnaire and
rule set are exactly what a fresh install has; no real database is touched), generates valid
answer sets for the current version of the default questionnaire with ages from 18 to 95, and
prints the median and 99th-percentile cost per submission of:

- ``screen()``: the pure evaluation the submission service runs, with the compiled rule set
  (derived values, rules, and the evidence of every flag that fired);
- ``screen_answers()``: the same plus finding the active rule set (one query; the compiled
  rule set is a cache hit);
- for comparison, every derived value and rule evaluated by rule-engine itself, without and
  with its per-value type checks (``screening.evaluation`` says why screening runs conditions
  as Python closures instead).

``--rule-set 1`` measures the default rule set version 1 instead (retired by ``migrate``, with
answers to questionnaire version 1, which it screens); it is not the active rule set, so the
``screen_answers()`` row is left out.

The target is well under a millisecond per submission.  Nothing here is asserted.
"""

import argparse
import datetime
import os
import random
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
os.environ["DATABASE_URL"] = "sqlite://:memory:"
# The production settings (DJANGO_DEBUG false) refuse to start without a strong secret key; this
# process serves nothing, so a random one does.
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from intake.models import Question  # noqa: E402
from intake.selectors import current_version  # noqa: E402
from screening.engine import Facts, condition_values, screen  # noqa: E402
from screening.models import RuleSet  # noqa: E402
from screening.services import (  # noqa: E402
    active_rule_set_for,
    compile_rule_set,
    screen_answers,
)

SUBMITTED_ON = datetime.date(2026, 12, 1)

YES = 0.05  # how often a generated patient says yes to a yes/no question or picks a choice


def answer_generator(version, rng: random.Random):
    """Valid answer sets: every required question answered, 'none' only on its own, a question
    shown on a condition only when the condition holds, optional ones sometimes left out."""
    questions = list(
        Question.objects.filter(version=version).prefetch_related("choices")
        .order_by("section__position", "position")
    )
    shapes = [
        (q.code, q.type, q.required and not q.condition_question, q.condition_question,
         q.condition_answer, [(c.value, c.is_exclusive) for c in q.choices.all()],
         q.min_value, q.max_value)
        for q in questions
    ]

    def generate() -> dict:
        answers = {}
        for code, type_, required, when, when_answer, choices, low, high in shapes:
            given = answers.get(when)
            if when and not (when_answer in given if isinstance(given, list)
                             else str(given).lower() == when_answer):
                continue
            if not required and rng.random() < 0.5:
                continue
            if type_ == Question.Type.BOOLEAN:
                answers[code] = rng.random() < YES
            elif type_ == Question.Type.INTEGER:
                answers[code] = rng.randint(low, high)
            elif type_ == Question.Type.SINGLE_CHOICE:
                answers[code] = rng.choice(choices)[0]
            elif type_ == Question.Type.MULTI_CHOICE:
                picked = [v for v, exclusive in choices if not exclusive and rng.random() < YES]
                exclusive = [v for v, is_exclusive in choices if is_exclusive]
                answers[code] = picked or exclusive[:1] or [choices[0][0]]
            else:
                answers[code] = "Generated text."
        return answers

    return generate


def timed(function, items) -> list[float]:
    """Microseconds per call, one call per item."""
    costs = []
    for item in items:
        start = time.perf_counter_ns()
        function(item)
        costs.append((time.perf_counter_ns() - start) / 1000)
    return costs


def percentile(costs: list[float], fraction: float) -> float:
    ordered = sorted(costs)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rule-set", type=int, default=None, metavar="VERSION",
                        help="the default rule set version to measure (default: the active one)")
    options = parser.parse_args()

    call_command("migrate", verbosity=0)
    version = current_version()
    start = time.perf_counter()
    if options.rule_set is None:
        compiled = active_rule_set_for(version)
    else:
        rule_set = RuleSet.objects.get(questionnaire_id=version.questionnaire_id,
                                       version=options.rule_set)
        compiled = compile_rule_set(rule_set)
        version = rule_set.questionnaire_version
    compile_ms = (time.perf_counter() - start) * 1000
    is_active = options.rule_set is None
    rng = random.Random(options.seed)
    generate = answer_generator(version, rng)
    submissions = [
        (generate(), Facts(date_of_birth=SUBMITTED_ON.replace(year=SUBMITTED_ON.year - age)
                           - datetime.timedelta(days=1), submitted_on=SUBMITTED_ON))
        for age in (rng.randint(18, 95) for _ in range(options.submissions))
    ]
    with_db = submissions[: max(1, options.submissions // 10)]

    def by_rule_engine(typed: bool):
        def evaluate(case):
            answers, facts = case
            values = condition_values(answers, compiled.schema)
            values["age"] = (facts.submitted_on - facts.date_of_birth).days // 366
            values["free_text_match"] = False
            for derived in compiled.derived:
                for condition in derived.conditions():
                    condition.matches_typed(values) if typed else condition.matches_untyped(
                        values)
                values[derived.name] = derived.compute(values)
            return [rule.condition.matches_typed(values) if typed
                    else rule.condition.matches_untyped(values) for rule in compiled.rules]
        return evaluate

    for answers, facts in submissions[:500]:  # warm up
        screen(answers, compiled, facts)

    rows = [
        ("screen() - what each submission costs",
         timed(lambda case: screen(case[0], compiled, case[1]), submissions)),
        *([("screen_answers() - with the active rule set lookup",
             timed(lambda case: screen_answers(version, case[0], case[1]), with_db))]
          if is_active else []),
        ("for comparison: rule-engine's own evaluation", timed(by_rule_engine(False), with_db)),
        ("for comparison: rule-engine's typed evaluation", timed(by_rule_engine(True), with_db)),
    ]
    urgencies: dict[str, int] = {}
    fired = []
    for answers, facts in submissions:
        result = screen(answers, compiled, facts)
        urgencies[result.urgency] = urgencies.get(result.urgency, 0) + 1
        fired.append(len(result.flags))

    print(f"Default rule set v{compiled.version}: {len(compiled.rules)} rules, "
          f"{len(compiled.derived)} derived values, {len(compiled.free_text.terms)} free-text "
          f"terms; compiled once in {compile_ms:.0f} ms")
    print(f"Flags per submission: median {statistics.median(fired):.0f}, max {max(fired)}")
    print(f"Generated submissions: {options.submissions} (seed {options.seed}); urgencies: "
          + ", ".join(f"{u} {n}" for u, n in sorted(urgencies.items())))
    print()
    width = max(len(name) for name, _ in rows)
    print(f"{'per submission':<{width}}  {'n':>6}  {'median µs':>10}  {'p99 µs':>8}  "
          f"{'max µs':>8}")
    print(f"{'-' * width}  {'-' * 6}  {'-' * 10}  {'-' * 8}  {'-' * 8}")
    for name, costs in rows:
        print(f"{name:<{width}}  {len(costs):>6}  {statistics.median(costs):>10.1f}  "
              f"{percentile(costs, 0.99):>8.1f}  {max(costs):>8.1f}")


if __name__ == "__main__":
    main()
