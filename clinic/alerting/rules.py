"""How each clinician is paged: their notification plan for an alert of one urgency.

A plan is a list of steps, each a channel and a delay: the step pages the person on that channel
that long after the alert reached them, unless someone has acknowledged the alert by then.
Steps with no delay go at once, side by side.  Each step is its own ``Notification`` (unique per
alert, level, clinician and step, so a step is sent once however often it is raised), written
when the alert reaches the person, due at its delay; a delayed one is picked up by the sweep,
and acknowledging the alert cancels it like any unsent notification.  After a step fails on its
channel (retries included) it falls back through the person's other channels
(``Notification.route``).

The person's ``NotificationRule`` rows for the urgency make the plan.  Without them it is derived
from the channels they have (``default_plan``):

- **emergency**: email and text message at once (whichever of the two they have; with neither,
  their first channel);
- **urgent**: their first channel (email, else text, else a webhook, Slack or Teams) at once,
  and a text message ``DEFAULT_URGENT_SMS_MINUTES`` later if nobody has acknowledged it.

A rule for a channel the person has no address on (or SMS on a service without a provider) is
skipped; a plan whose every step is delayed is brought forward so its first step goes at once:
a page is never held back by a rule.
"""

import datetime
from dataclasses import dataclass

from django.db.models import prefetch_related_objects

from clinic.models import Clinician, NotificationRule
from screening.urgency import Urgency

DEFAULT_URGENT_SMS_MINUTES = 10
AT_ONCE = datetime.timedelta(0)


@dataclass(frozen=True)
class PlanStep:
    channel: str  # a transport's name; "" for a person with no channel at all
    delay: datetime.timedelta


def notification_plans(clinicians, urgency: str) -> dict[int, list[PlanStep]]:
    """Each clinician's plan for an alert of ``urgency``, by id: one query for the rules of
    those whose rules are not prefetched yet (``clinic.rota.escalation_chain`` has them)."""
    prefetch_related_objects(clinicians, "notification_rules")
    return {c.pk: plan(c, urgency, [rule for rule in c.notification_rules.all()
                                    if rule.urgency == urgency])
            for c in clinicians}


def plan(clinician: Clinician, urgency: str, rules: list[NotificationRule]) -> list[PlanStep]:
    """``clinician``'s plan for ``urgency`` from their ``rules`` (in order), or the default."""
    available = {channel.name for channel in clinician.channels}
    steps = [PlanStep(rule.channel, datetime.timedelta(minutes=rule.delay_minutes))
             for rule in rules if rule.channel in available]
    if not steps:
        steps = default_plan(clinician, urgency)
    earliest = min(step.delay for step in steps)
    # Stable: steps due together keep the order the rules give them.
    return sorted((PlanStep(step.channel, step.delay - earliest) for step in steps),
                  key=lambda step: step.delay)


def default_plan(clinician: Clinician, urgency: str) -> list[PlanStep]:
    names = [channel.name for channel in clinician.channels]
    if not names:
        # Nobody can be reached: one notification that will fail at once and escalate.
        return [PlanStep("", AT_ONCE)]
    if urgency == Urgency.EMERGENCY:
        return [PlanStep(name, AT_ONCE) for name in names if name in ("email", "sms")] or [
            PlanStep(names[0], AT_ONCE)]
    steps = [PlanStep(names[0], AT_ONCE)]
    if "sms" in names and names[0] != "sms":
        steps.append(PlanStep("sms", datetime.timedelta(minutes=DEFAULT_URGENT_SMS_MINUTES)))
    return steps
