"""Version 2 of the default rule set, as ``shared/clinical/triage-rules-v2.md`` sets it out.

This is frozen data, kept in ``screening/data/rules-v2.json`` (read by
``screening.rule_set_data``, which describes its shape): the migration that creates rule set
version 2 reads it, so it must not change.  Admins change the rules by creating a new draft rule
set in the admin, never by editing that file.

It is written against version 2 of the default questionnaire (``intake.default_questionnaire_v2``)
and has three parts, in the order the specification gives them: ``DERIVED``, the derived values
(``CONDITION`` or ``SCORE``), computed in this order; ``RULES``; and ``FREE_TEXT_TERMS``.
"""

from decimal import Decimal

from screening.rule_set_data import RULE_FIELDS_V2, load

_DATA = load("rules-v2.json", RULE_FIELDS_V2)
QUESTIONNAIRE_SLUG = _DATA["questionnaire_slug"]
NOTES = _DATA["notes"]

CONDITION = "condition"
SCORE = "score"

DERIVED = _DATA["derived"]
RULES = _DATA["rules"]
FREE_TEXT_TERMS = _DATA["free_text_terms"]


def create_rule_set_version_2(models, *, questionnaire_version, number, now):
    """Create rule set version ``number`` from the data above, active, checked against
    ``questionnaire_version``.  ``models`` maps model names (RuleSet, Rule, DerivedValue,
    ScoreItem, FreeTextTerm) to classes, so that a data migration can pass its historical
    models.  The caller retires the rule set it replaces."""
    rule_set = models["RuleSet"].objects.create(
        questionnaire_id=questionnaire_version.questionnaire_id,
        questionnaire_version=questionnaire_version,
        version=number, status="active", notes=NOTES, created_at=now, activated_at=now,
    )
    for position, (name, title, kind, definition, description) in enumerate(DERIVED):
        value = models["DerivedValue"].objects.create(
            rule_set=rule_set, name=name, title=title, kind=kind, position=position,
            condition=definition if kind == CONDITION else "", description=description,
        )
        if kind == SCORE:
            models["ScoreItem"].objects.bulk_create(
                models["ScoreItem"](derived_value=value, label=label, condition=condition,
                                    points=Decimal(str(points)), basis=basis,
                                    position=item_position)
                for item_position, (label, condition, points, basis) in enumerate(definition)
            )
    models["Rule"].objects.bulk_create(
        models["Rule"](rule_set=rule_set, code=code, title=title, category=category, tier=tier,
                       condition=condition, explanation=explanation, enabled=True,
                       position=position)
        for position, (code, title, category, tier, condition, explanation) in enumerate(RULES)
    )
    models["FreeTextTerm"].objects.bulk_create(
        models["FreeTextTerm"](rule_set=rule_set, group=group, term=term)
        for group, terms in FREE_TEXT_TERMS for term in terms
    )
    return rule_set
