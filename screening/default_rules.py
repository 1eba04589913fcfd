"""Version 1 of the default rule set, exactly as ``shared/clinical/triage-rules.md`` sets it out.

This is frozen data, kept in ``screening/data/rules-v1.json`` (read by
``screening.rule_set_data``, which describes its shape): the migration that creates the active
rule set reads it, so it must not change.  Admins change the rules by creating a new draft rule
set in the admin, never by editing that file.

Conditions are written in the rule language (``screening.conditions``) over the question codes
of ``intake.default_questionnaire``.  Where the spec defines a rule by other rules ("neither of
the two rules above fires"), the condition spells the other rules' conditions out (the three
cardiac features counted: left arm pain; autonomic, any of dizziness, nausea, sweating in
``associated_symptoms``; pain with exertion.  "``numbness_tingling`` is not none": something
other than 'none' was chosen; an empty list (unanswered) and ['none'] both mean no).
"""

from screening.rule_set_data import RULE_FIELDS_V1, load

_DATA = load("rules-v1.json", RULE_FIELDS_V1)
QUESTIONNAIRE_SLUG = _DATA["questionnaire_slug"]
QUESTIONNAIRE_VERSION = _DATA["questionnaire_version"]
NOTES = _DATA["notes"]
RULES = _DATA["rules"]


def create_default_rule_set(Questionnaire, QuestionnaireVersion, RuleSet, Rule, now):
    """Create rule set version 1, active, for version 1 of the default questionnaire.

    Takes the model classes so that a data migration can pass its historical models.  Returns
    the rule set and its rules, or ``(None, [])`` when the default questionnaire is absent.
    """
    version = QuestionnaireVersion.objects.filter(
        questionnaire__slug=QUESTIONNAIRE_SLUG, number=QUESTIONNAIRE_VERSION
    ).first()
    if version is None:
        return None, []
    rule_set = RuleSet.objects.create(
        questionnaire_id=version.questionnaire_id,
        questionnaire_version=version,
        version=1,
        status="active",
        notes=NOTES,
        created_at=now,
        activated_at=now,
    )
    rules = Rule.objects.bulk_create(
        Rule(
            rule_set=rule_set,
            code=code,
            category=category,
            tier=tier,
            condition=condition,
            explanation=explanation,
            enabled=True,
            position=position,
        )
        for position, (code, category, tier, condition, explanation) in enumerate(RULES)
    )
    return rule_set, rules
