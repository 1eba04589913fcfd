"""The default questionnaire's safety cases: the 40 clinical cases of the version 2
specification (``screening/data/safety-cases-v2.json``, a copy of the shared
``vignettes-v2.json``), each with the urgency and exact flags rule set version 2 gives it.

Only cases whose name is not there yet are added, so migrating twice adds nothing, and cases an
admin has edited are left as they are."""

import json
from pathlib import Path

from django.db import migrations
from django.utils import timezone

DATA = Path(__file__).resolve().parent.parent / "data" / "safety-cases-v2.json"
SOURCE = "Clinical specification version 2 (vignettes-v2.json), shipped by migrate"


def seed_safety_cases(apps, schema_editor):
    Questionnaire = apps.get_model("intake", "Questionnaire")
    SafetyCase = apps.get_model("screening", "SafetyCase")
    HistoricalSafetyCase = apps.get_model("screening", "HistoricalSafetyCase")
    questionnaire = Questionnaire.objects.filter(slug="upper-back-pain").first()
    if questionnaire is None:
        return
    existing = set(SafetyCase.objects.filter(questionnaire=questionnaire)
                   .values_list("name", flat=True))
    cases = [
        SafetyCase(questionnaire=questionnaire, name=case["id"], description=case["description"],
                   source=SOURCE, age=case["age"], answers=case["answers"],
                   expected_urgency=case["expected_urgency"],
                   expected_flags=sorted(case["expected_flags"]), enabled=True)
        for case in json.loads(DATA.read_text()) if case["id"] not in existing
    ]
    created = SafetyCase.objects.bulk_create(cases)
    now = timezone.now()
    fields = [f.attname for f in SafetyCase._meta.concrete_fields]
    HistoricalSafetyCase.objects.bulk_create(
        HistoricalSafetyCase(**{name: getattr(case, name) for name in fields}, history_date=now,
                             history_change_reason="safety cases seeded by migrate",
                             history_type="+")
        for case in SafetyCase.objects.filter(pk__in=[c.pk for c in created])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0005_safety_cases_and_sign_off"),
        ("intake", "0008_questionnaire_version_2"),
    ]

    operations = [migrations.RunPython(seed_safety_cases, migrations.RunPython.noop)]
