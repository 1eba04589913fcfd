"""Rule set version 2 (``screening.default_rules_v2``), active for questionnaire version 2.

A fresh install and an upgraded one end in the same state: the rule set that was active (version
1, for questionnaire version 1) is retired, and version 2 is active, checked against the
published questionnaire version that ``intake.0008`` made.  Submissions keep the rule set that
screened them.  Nothing happens when the default questionnaire or its version 2 is absent, or
when a rule set built from this data is already there (one whose derived values include
``marburg_heart_score``), so migrating back and forth creates nothing twice.

Every row gets its first history record, as ``0002`` did, so the admin's history shows where
each rule, derived value, score item and term came from.
"""

from django.db import migrations
from django.db.models import Max
from django.utils import timezone

from screening import default_rules_v2

REASON = "default rule set version 2 created by migrate"


def _history(apps, model_name, rows, now, reason=REASON, history_type="+"):
    historical = apps.get_model("screening", f"Historical{model_name}")
    fields = [f.attname for f in apps.get_model("screening", model_name)._meta.concrete_fields]
    historical.objects.bulk_create(
        historical(**{name: getattr(row, name) for name in fields}, history_date=now,
                   history_change_reason=reason, history_type=history_type)
        for row in rows
    )


def create_rule_set_version_2(apps, schema_editor):
    RuleSet = apps.get_model("screening", "RuleSet")
    DerivedValue = apps.get_model("screening", "DerivedValue")
    QuestionnaireVersion = apps.get_model("intake", "QuestionnaireVersion")
    version = (
        QuestionnaireVersion.objects.filter(
            questionnaire__slug=default_rules_v2.QUESTIONNAIRE_SLUG, status="published")
        .filter(questions__code="pain_walking_or_stairs").filter(questions__code="heart_conditions")
        .order_by("-number").first()
    )
    if version is None:
        return
    if DerivedValue.objects.filter(rule_set__questionnaire_id=version.questionnaire_id,
                                   name="marburg_heart_score").exists():
        return
    now = timezone.now()
    previous = list(RuleSet.objects.filter(questionnaire_id=version.questionnaire_id,
                                           status="active"))
    RuleSet.objects.filter(pk__in=[r.pk for r in previous]).update(
        status="retired", retired_at=now)
    latest = RuleSet.objects.filter(questionnaire_id=version.questionnaire_id).aggregate(
        latest=Max("version"))["latest"] or 0
    models = {name: apps.get_model("screening", name)
              for name in ("RuleSet", "Rule", "DerivedValue", "ScoreItem", "FreeTextTerm")}
    rule_set = default_rules_v2.create_rule_set_version_2(
        models, questionnaire_version=version, number=latest + 1, now=now)
    _history(apps, "RuleSet", RuleSet.objects.filter(pk__in=[r.pk for r in previous]), now,
             reason=f"retired: version {rule_set.version} activated by migrate", history_type="~")
    _history(apps, "RuleSet", [rule_set], now)
    _history(apps, "Rule", models["Rule"].objects.filter(rule_set=rule_set), now)
    _history(apps, "DerivedValue", DerivedValue.objects.filter(rule_set=rule_set), now)
    _history(apps, "ScoreItem",
             models["ScoreItem"].objects.filter(derived_value__rule_set=rule_set), now)
    _history(apps, "FreeTextTerm", models["FreeTextTerm"].objects.filter(rule_set=rule_set), now)


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0003_derived_values_and_free_text"),
        ("intake", "0008_questionnaire_version_2"),
    ]

    operations = [migrations.RunPython(create_rule_set_version_2, migrations.RunPython.noop)]
