"""Welsh and Urdu translations of questionnaire version 2, as drafted by the developers
(``intake/translations/v2-<language>.json``), awaiting clinical review: they are not offered to
patients until someone with the permission signs them off in the admin."""

import json
from pathlib import Path

from django.db import migrations

from intake import default_questionnaire_v2

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def add_translations(apps, schema_editor):
    QuestionnaireVersion = apps.get_model("intake", "QuestionnaireVersion")
    QuestionnaireTranslation = apps.get_model("intake", "QuestionnaireTranslation")
    version = QuestionnaireVersion.objects.filter(
        questionnaire__slug=default_questionnaire_v2.SLUG, number=2, status="published").first()
    if version is None:
        return  # a database whose version 2 is not the shipped one: nothing to translate
    for language in ("cy", "ur"):
        texts = json.loads((TRANSLATIONS / f"v2-{language}.json").read_text(encoding="utf-8"))
        QuestionnaireTranslation.objects.get_or_create(
            version=version, language=language,
            defaults={"texts": texts, "status": "awaiting_review"})


def remove_translations(apps, schema_editor):
    apps.get_model("intake", "QuestionnaireTranslation").objects.filter(
        status="awaiting_review", version__number=2, language__in=["cy", "ur"]).delete()


class Migration(migrations.Migration):
    dependencies = [("intake", "0012_questionnaire_translations")]

    operations = [migrations.RunPython(add_translations, remove_translations)]
