"""How the screening is doing, per rule-set version, for clinical leads: intakes by urgency per
week, how often each rule fires, what reviewing clinicians judged of it, and the cases they
judged "too low" first.  Read-only and scoped like the queue (``cases.visible_submissions``):
a lead sees the clinics they work at.  Counting happens in the database (a few grouped queries
whatever the number of intakes).
"""

import datetime
from dataclasses import dataclass, field

from django.db.models import Count
from django.db.models.functions import TruncWeek

from clinic.review.cases import visible_submissions
from clinic.review.charts import Bar, weekly_stacked_bars
from intake.models import Submission
from screening.models import Flag, Rule, RuleSet
from screening.urgency import Urgency

PERMISSION = "screening.view_performance"
URGENCIES = Urgency.values  # most urgent first
TOO_LOW_LISTED = 200


@dataclass(frozen=True)
class RuleFigures:
    code: str
    title: str
    tier: str
    fired: int
    rate: float  # share of the rule set's intakes it fired on
    judged: dict[str, int] = field(default_factory=dict)  # judgement -> count, about this rule


@dataclass(frozen=True)
class Performance:
    rule_set: RuleSet
    intakes: int
    weeks: list[tuple[datetime.date, dict[str, int]]]  # week start -> urgency -> count
    rules: list[RuleFigures]
    judgements: dict[str, int]  # all reviewed intakes: judgement -> count
    too_low: list[Submission]


def performance_rule_sets(user) -> list[RuleSet]:
    """The rule sets that screened anything the user may see, newest first."""
    ids = visible_submissions(user).exclude(rule_set=None).values("rule_set_id").distinct()
    return list(RuleSet.objects.filter(pk__in=ids).select_related("questionnaire")
                .order_by("-activated_at", "-version"))


def screening_performance(user, rule_set: RuleSet) -> Performance:
    submissions = visible_submissions(user).filter(rule_set=rule_set)
    intakes = submissions.count()
    weekly: dict[datetime.date, dict[str, int]] = {}
    for row in (submissions.annotate(week=TruncWeek("submitted_at")).values("week", "urgency")
                .annotate(n=Count("pk")).order_by("week")):
        week = row["week"].date() if isinstance(row["week"], datetime.datetime) else row["week"]
        weekly.setdefault(week, dict.fromkeys(URGENCIES, 0))[row["urgency"]] = row["n"]
    fired = dict(Flag.objects.filter(submission__in=submissions).values("rule_code")
                 .annotate(n=Count("pk")).values_list("rule_code", "n"))
    judged: dict[str, dict[str, int]] = {}
    for row in (submissions.exclude(judged_flag="").values("judged_flag", "triage_judgement")
                .annotate(n=Count("pk"))):
        judged.setdefault(row["judged_flag"], {})[row["triage_judgement"]] = row["n"]
    rules = [
        RuleFigures(code=rule.code, title=rule.display_title, tier=rule.tier,
                    fired=fired.get(rule.code, 0),
                    rate=fired.get(rule.code, 0) / intakes if intakes else 0.0,
                    judged=judged.get(rule.code, {}))
        for rule in Rule.objects.filter(rule_set=rule_set).order_by("position", "code")
    ]
    judgements = dict(submissions.exclude(triage_judgement="").values("triage_judgement")
                      .annotate(n=Count("pk")).values_list("triage_judgement", "n"))
    too_low = list(submissions.filter(triage_judgement=Submission.Judgement.TOO_LOW)
                   .order_by("-submitted_at").only(
                       "reference", "submitted_at", "urgency", "judged_flag", "outcome",
                       "reviewed_at")[:TOO_LOW_LISTED])
    return Performance(rule_set=rule_set, intakes=intakes, weeks=sorted(weekly.items()),
                       rules=rules, judgements=judgements, too_low=too_low)


# --- Charts, drawn on the server as SVG (no script: the CSP allows none inline) ----------


def weekly_chart(performance: Performance, *, width: int = 640, height: int = 200) -> dict:
    """Stacked bars, one per week, most urgent at the top of each bar."""
    return weekly_stacked_bars(
        performance.weeks, URGENCIES, css="bar--{key}", width=width, height=height,
        describe=lambda week, urgency, count: f"Week of {week:%d %b %Y}: {count} {urgency}")


def rules_chart(performance: Performance, *, width: int = 640, row: int = 18) -> dict:
    """One horizontal bar per rule that fired, its length the share of intakes."""
    fired = [r for r in performance.rules if r.fired]
    label_width = 260
    top = max((r.rate for r in fired), default=0) or 1
    bars = [Bar(x=label_width, y=index * row, width=max(r.rate / top * (width - label_width
                                                                         - 60), 1),
                height=row - 4, css=f"bar--{r.tier}",
                title=f"{r.title}: {r.fired} ({r.rate:.1%})")
            for index, r in enumerate(fired)]
    return {"width": width, "height": max(len(fired), 1) * row, "bars": bars,
            "rows": list(zip(fired, bars, strict=True)), "label_width": label_width}
