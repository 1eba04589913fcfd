"""The admin home's "Needs attention" panel: unacknowledged alerts, gaps in the next week's
rota, and questionnaire and rule set drafts waiting to be published or activated, each shown
only to someone who may see those records, each with a link to where to act on it."""

from django import template
from django.urls import reverse

from clinic.alerting import coverage
from clinic.models import Alert, Clinic
from intake.models import QuestionnaireVersion
from screening.models import RuleSet

register = template.Library()


@register.inclusion_tag("admin/_attention.html")
def needs_attention(user) -> dict:
    items = []
    if user.has_perm("clinic.view_alert"):
        waiting = Alert.objects.filter(acknowledged_at__isnull=True).count()
        if waiting:
            items.append((f"{waiting} alert{'s' if waiting != 1 else ''} not acknowledged",
                          reverse("admin:clinic_alert_changelist") + "?acknowledged_at__isempty=1"))
    if user.has_perm("clinic.view_clinic"):
        for clinic in Clinic.objects.order_by("name"):
            report = coverage.check_clinic(clinic)
            if report.nobody_on_duty:
                gaps = len(report.nobody_on_duty)
                items.append((f"{clinic.name}: {gaps} time{'s' if gaps != 1 else ''} in the next "
                              "7 days when the clinic is open and nobody is on duty",
                              reverse("admin:clinic_clinic_rota", args=[clinic.pk])))
            if report.unreachable or report.no_out_of_hours:
                items.append((f"{clinic.name}: "
                              f"{len(report.unreachable) + len(report.no_out_of_hours)} other "
                              "problem(s) with who can be paged",
                              reverse("admin:clinic_clinic_coverage")))
    if user.has_perm("intake.view_questionnaireversion"):
        for version in QuestionnaireVersion.objects.filter(
            status=QuestionnaireVersion.Status.DRAFT
        ).select_related("questionnaire").order_by("pk"):
            items.append((f"Questionnaire draft waiting to be published: {version}",
                          reverse("admin:intake_questionnaireversion_change", args=[version.pk])))
    if user.has_perm("screening.view_ruleset"):
        for rule_set in RuleSet.objects.filter(status=RuleSet.Status.DRAFT).select_related(
            "questionnaire"
        ).order_by("pk"):
            items.append((f"Rule set draft waiting to be activated: {rule_set}",
                          reverse("admin:screening_ruleset_change", args=[rule_set.pk])))
    return {"items": items}
