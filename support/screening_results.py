"""Writes ``tests/data/screening-results.json.gz``: complete screening results recorded from the
engine as it was before issue 19 made it faster (commit f9a54c2 on branch h-engine, the same
engine as main's ed69256), for ``tests/screening/test_engine_results.py`` to compare with.

Run once, from the project root of a checkout of that commit::

    DJANGO_DEBUG=true .venv/bin/python support/screening_results.py

It migrates a private in-memory SQLite database (the default questionnaire versions 1 and 2 and
rule sets 1 and 2 exactly as a fresh install has them), and records, for each rule set:

- every clinical vignette of its questionnaire version (``vignettes.json`` for version 1,
  ``vignettes-v2.json`` for version 2) and the answer sets of ``support/clinical_data.py``;
- answer sets generated with a fixed seed: valid answers (every required question answered, an
  exclusive choice only on its own, a question shown on a condition only when it holds,
  optional questions sometimes left out), symptom-heavy so that many rules fire, with ages from
  0 to 120 and free text that sometimes holds the rule set's terms (accents, capitals and
  punctuation included);
- answer sets it must refuse (a required answer missing, an answer of the wrong type), with
  the message it refuses them with.

Each case is stored with its answers, the patient's age on the submission date and the result
written out by ``canonical``, which keeps what JSON alone would lose (a tuple from a list, a
Decimal, a dataclass), so the comparison is of everything a result holds, in order.
Generating it again from a newer engine would make the test compare the engine with itself:
don't, unless a rule set's results are meant to change.
"""

import datetime
import gzip
import json
import os
import random
import secrets
import sys
from dataclasses import fields, is_dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "tests" / "data" / "screening-results.json.gz"
SEED = 19
GENERATED = {1: 150, 2: 300}  # generated answer sets per rule set version
ON = datetime.date(2026, 12, 1)


def canonical(value):
    """``value`` as JSON that tells apart every type a screening result can hold: JSON keeps
    true, 1 and 1.0 and the order of an object's keys apart already; a tuple, a Decimal and a
    dataclass are written as a one-key object naming them."""
    if is_dataclass(value):
        return {
            type(value).__name__: {f.name: canonical(getattr(value, f.name)) for f in fields(value)}
        }
    if isinstance(value, dict):
        assert all(type(key) is str for key in value), "only text keys are expected"
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return {"()": [canonical(item) for item in value]}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    if isinstance(value, Decimal):
        return {"Decimal": str(value)}
    if value is None or type(value) in (bool, int, float, str):
        return value
    raise TypeError(f"cannot record a {type(value).__name__}")


def recorded_cases() -> list[dict]:
    """The cases ``main`` wrote, in order."""
    return [json.loads(line) for line in gzip.decompress(RECORDED.read_bytes()).splitlines()]


def generator(schema, terms: list[str], rng: random.Random):
    """Valid answer sets to ``schema`` (see the module docstring)."""
    questions = list(schema.questions.values())
    texts = [
        "Generated text.",
        "Nothing else.",
        "",
        "Ça me fait MAL, près du cœur; can't sleep!",
        "The pain is   — worse (at night).",
    ]

    def text():
        words = [rng.choice(texts)]
        for _ in range(rng.choice((0, 0, 1, 2, 3))):
            words.append(rng.choice(terms) if terms else "word")
            words.append(rng.choice(texts))
        written = " ".join(words).strip() or "None."
        return written.upper() if rng.random() < 0.1 else written

    def generate(yes: float) -> dict:
        answers = {}
        for q in questions:
            if q.condition_question:
                given = answers.get(q.condition_question)
                target = schema.questions[q.condition_question]
                if given is None or not target.kind.matches_condition(given, q.condition_answer):
                    continue
            if not q.always_answered and rng.random() < 0.4:
                continue
            kind = q.kind
            if kind.condition_type.name == "YES_NO":
                answers[q.code] = rng.random() < yes
            elif kind.condition_type.name == "NUMBER":
                answers[q.code] = rng.randint(q.min_value, q.max_value)
            elif kind.condition_type.name == "ONE_CHOICE":
                answers[q.code] = rng.choice(q.choices)
            elif kind.condition_type.name == "CHOICES":
                ordinary = [c for c in q.choices if c not in q.exclusive]
                picked = [c for c in ordinary if rng.random() < yes]
                answers[q.code] = picked or list(q.exclusive[:1]) or [ordinary[0]]
            else:
                answers[q.code] = text()
        return answers

    return generate


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DATABASE_URL"] = "sqlite://:memory:"
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    import django

    django.setup()
    from django.core.management import call_command

    from screening.engine import ScreeningError, screen
    from screening.models import RuleSet
    from screening.services import compile_rule_set
    from support import clinical_data

    call_command("migrate", verbosity=0)
    rng = random.Random(SEED)
    cases = []
    for rule_set in RuleSet.objects.exclude(status=RuleSet.Status.DRAFT).order_by("version"):
        compiled = compile_rule_set(rule_set)
        if rule_set.version == 1:
            named = [(case["id"], case["answers"], 40) for case in clinical_data.VIGNETTES_V1]
            named.append(("routine_answers_v1", clinical_data.routine_answers_v1(), 40))
        else:
            named = [(case["id"], case["answers"], case["age"]) for case in clinical_data.VIGNETTES]
            named += [
                (f"answers_by_urgency:{urgency}", answers, age)
                for urgency, answers in clinical_data.ANSWERS_BY_URGENCY.items()
                for age in (0, 40, 49, 50, 54, 55, 64, 65, 120)
            ]
            named.append(("chest_pain", clinical_data.CHEST_PAIN, 40))
        terms = [
            spec.term.replace("*", rng.choice(("", "s", "ing")))
            for spec in compiled.free_text.terms
        ]
        generate = generator(compiled.schema, terms, rng)
        for number in range(GENERATED[rule_set.version]):
            yes = rng.choice((0.02, 0.05, 0.1, 0.2, 0.4))
            named.append((f"generated-{number}", generate(yes), rng.randint(0, 120)))
        # Answers screening must refuse, with the message it gives.
        required = [q.code for q in compiled.schema.questions.values() if q.always_answered]
        for _ in range(10):
            answers = generate(0.1)
            wrong = rng.choice(required)
            named.append((f"missing-{wrong}", {k: v for k, v in answers.items() if k != wrong}, 40))
            named.append((f"wrong-type-{wrong}", {**answers, wrong: {"x": 1}}, 40))
        for name, answers, age in named:
            case = {
                "rule_set": rule_set.version,
                "name": name,
                "answers": answers,
                "age": age,
                "on": ON.isoformat(),
            }
            try:
                case["result"] = canonical(screen(answers, compiled, clinical_data.facts(age, ON)))
            except ScreeningError as error:
                case["error"] = str(error)
            cases.append(case)
    # Compressed: the results repeat the same titles and explanations (3 MB as plain JSON).
    # One case a line, so ``zcat`` shows them readably.  mtime=0: the same bytes every run.
    text = "".join(
        json.dumps(case, ensure_ascii=False, separators=(",", ":")) + "\n" for case in cases
    )
    RECORDED.write_bytes(gzip.compress(text.encode(), mtime=0))
    print(f"{len(cases)} cases written to {RECORDED.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
