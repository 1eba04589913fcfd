"""The frozen default rule sets the migrations create, read from ``screening/data/``.

``rules-v1.json`` and ``rules-v2.json`` hold rule sets 1 and 2 exactly as
``shared/clinical/triage-rules.md`` and ``triage-rules-v2.md`` set them out.  They are published
clinical data: the migrations that create the rule sets read them, so they must never change
(admins change the rules by creating a new draft rule set in the admin).
``screening.default_rules`` and ``screening.default_rules_v2`` expose them as tuples:

- a rule of set 1 is ``(code, category, tier, condition, explanation)``; of set 2,
  ``(code, title, category, tier, condition, explanation)``, in the specification's order.
  Where the specification defines a rule by another ("``cardiac_feature`` fires"), the
  condition spells that rule's condition out: a rule is evaluated on its own, never by looking
  at which other rules fired.
- a derived value (set 2) is ``(name, title, "condition", condition, description)``, or for a
  score ``(name, title, "score", items, description)`` with items
  ``(label, condition, points, basis)``, so its items and points are data a clinician reviews
  in the admin; each may use the ones before it and the built-in ``age``.
- a free-text group (set 2) is ``(group, terms)``, for ``free_text_mention``.
"""

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

RULE_FIELDS_V1 = ("code", "category", "tier", "condition", "explanation")
RULE_FIELDS_V2 = ("code", "title", "category", "tier", "condition", "explanation")
SCORE_ITEM_FIELDS = ("label", "condition", "points", "basis")


def _derived(value: dict) -> tuple:
    if "items" in value:
        definition = [tuple(item[field] for field in SCORE_ITEM_FIELDS) for item in value["items"]]
    else:
        definition = value["condition"]
    return value["name"], value["title"], value["kind"], definition, value["description"]


def load(name: str, rule_fields: tuple[str, ...]) -> dict:
    """The rule set in ``screening/data/<name>``: its ``questionnaire_slug``, ``notes`` (and
    ``questionnaire_version``, where it names one) as written; its ``rules`` as tuples of
    ``rule_fields``; its ``derived`` values and ``free_text_terms`` (empty where it has none) as
    described above."""
    data = json.loads((DATA / name).read_text(encoding="utf-8"))
    data["rules"] = [tuple(rule[field] for field in rule_fields) for rule in data["rules"]]
    data["derived"] = [_derived(value) for value in data.get("derived", [])]
    data["free_text_terms"] = [
        (group["group"], group["terms"]) for group in data.get("free_text_terms", [])
    ]
    return data
