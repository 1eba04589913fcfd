from django.db import migrations
from django.utils import timezone

from intake import default_questionnaire


def publish_default_questionnaire(apps, schema_editor):
    models = [apps.get_model("intake", name) for name in
              ("Questionnaire", "QuestionnaireVersion", "Section", "Question", "Choice")]
    if models[0].objects.filter(slug=default_questionnaire.SLUG).exists():
        return
    version = default_questionnaire.create_default_version(*models)
    version.status = "published"
    version.published_at = timezone.now()
    version.save(update_fields=["status", "published_at"])


class Migration(migrations.Migration):
    dependencies = [("intake", "0001_initial")]

    operations = [migrations.RunPython(publish_default_questionnaire, migrations.RunPython.noop)]
