from django.db import migrations
from django.utils import timezone

from screening import default_rules


def create_default_rule_set(apps, schema_editor):
    RuleSet = apps.get_model("screening", "RuleSet")
    if RuleSet.objects.filter(questionnaire__slug=default_rules.QUESTIONNAIRE_SLUG).exists():
        return
    now = timezone.now()
    rule_set, rules = default_rules.create_default_rule_set(
        apps.get_model("intake", "Questionnaire"),
        apps.get_model("intake", "QuestionnaireVersion"),
        RuleSet,
        apps.get_model("screening", "Rule"),
        now,
    )
    if rule_set is None:
        return
    # Start the history with the rule set as migrate created it, so that the admin's history
    # shows where every rule came from.
    reason = "default rule set created by migrate"
    apps.get_model("screening", "HistoricalRuleSet").objects.create(
        id=rule_set.pk,
        questionnaire_id=rule_set.questionnaire_id,
        questionnaire_version_id=rule_set.questionnaire_version_id,
        version=rule_set.version,
        status=rule_set.status,
        notes=rule_set.notes,
        based_on_id=None,
        created_at=rule_set.created_at,
        activated_at=rule_set.activated_at,
        retired_at=None,
        history_date=now,
        history_change_reason=reason,
        history_type="+",
    )
    HistoricalRule = apps.get_model("screening", "HistoricalRule")
    HistoricalRule.objects.bulk_create(
        HistoricalRule(
            id=rule.pk,
            rule_set_id=rule_set.pk,
            code=rule.code,
            category=rule.category,
            tier=rule.tier,
            condition=rule.condition,
            explanation=rule.explanation,
            enabled=rule.enabled,
            position=rule.position,
            history_date=now,
            history_change_reason=reason,
            history_type="+",
        )
        for rule in rule_set.rules.all()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0001_initial"),
        ("intake", "0002_default_questionnaire"),
    ]

    operations = [migrations.RunPython(create_default_rule_set, migrations.RunPython.noop)]
