"""What the patient is told at once, for each urgency tier (triage-rules.md, "Urgency tiers").

One source for the API's ``advice`` string and the advice page, so the two never disagree.
"""

import dataclasses
import datetime
from dataclasses import dataclass

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from clinic.hours import closing_time, describe_hours, is_open, local_time, next_opening
from clinic.models import Clinic
from screening.urgency import Urgency


@dataclass(frozen=True)
class Advice:
    urgency: str
    headline: str
    text: str
    call_number: str = ""  # a number the patient should call now, if any
    clinic_open: bool = True
    safety_net: str = ""  # when to call the emergency number after all, if that needs saying

    def __str__(self):
        return " ".join(part for part in (self.headline, self.text, self.safety_net) if part)


def advice_for(
    urgency: str, clinic: Clinic, at: datetime.datetime, *, possible_cardiac: bool = False
) -> Advice:
    """What to tell the patient.  ``possible_cardiac``: a possible-cardiac rule fired, so an
    urgent answer also says when to call the emergency number (NICE CG95 safety-netting: the
    form cannot tell whether the pain is there now)."""
    advice = _advice(urgency, clinic, at)
    if urgency == Urgency.URGENT and possible_cardiac:
        emergency = clinic.emergency_number
        advice = dataclasses.replace(advice, safety_net=_(
            "Your answers could mean a heart problem. If you have the pain now, or it comes back "
            "and lasts more than 15 minutes, call %(emergency)s now. Do not wait for our call."
        ) % {"emergency": emergency})
    return advice


def _advice(urgency: str, clinic: Clinic, at: datetime.datetime) -> Advice:
    """In the language active now (the patient's, on their pages; English for the API)."""
    numbers = {"emergency": clinic.emergency_number, "name": clinic.name,
               "out_of_hours": clinic.out_of_hours_number}
    if urgency == Urgency.EMERGENCY:
        return Advice(
            urgency,
            headline=_("Call %(emergency)s now.") % numbers,
            text=_("Your answers suggest you may need emergency care. Call %(emergency)s now "
                   "and tell them about your symptoms. Do not wait for your appointment or for "
                   "us to call you.") % numbers,
            call_number=clinic.emergency_number,
        )
    if urgency == Urgency.URGENT:
        if is_open(clinic, at):
            return Advice(
                urgency,
                headline=_("We will phone you today."),
                text=_("A clinician from %(name)s will phone you today to talk about your "
                       "answers. If you feel worse before then, call %(emergency)s.") % numbers,
            )
        return Advice(
            urgency,
            headline=_("Call %(out_of_hours)s now for urgent advice.") % numbers,
            text=_("Your answers need a clinician to look at them today, and %(name)s is closed "
                   "now (we are open %(hours)s). Call %(out_of_hours)s now for urgent medical "
                   "advice. If you feel worse, call %(emergency)s.") % {
                       **numbers, "hours": describe_hours(clinic)},
            call_number=clinic.out_of_hours_number,
            clinic_open=False,
        )
    if urgency == Urgency.SOON:
        return Advice(
            urgency,
            headline=_("Thank you. A clinician will look at your answers."),
            text=_("A clinician will read your answers before your appointment and will "
                   "contact you if they need to. If you feel worse, call %(out_of_hours)s, or "
                   "%(emergency)s in an emergency.") % numbers,
        )
    return Advice(
        urgency,
        headline=_("Thank you. We will see you at your appointment."),
        text=_("Your answers have been sent to your physiotherapist. If your symptoms change "
               "or you feel worse before then, call %(out_of_hours)s, or %(emergency)s in an "
               "emergency.") % numbers,
    )


@dataclass(frozen=True)
class NextSteps:
    """What happens next, for the advice page (the safety-netting PATCHS and eConsult give):
    who will contact the patient and by when, what to do if nobody has by then, and what to do
    if it gets worse."""

    who_and_when: str
    if_nobody: str
    if_worse: str


def next_steps(urgency: str, clinic: Clinic, at: datetime.datetime, *,
               appointment_at: datetime.datetime | None = None) -> NextSteps:
    """In the language active now, as ``advice_for``."""
    values = {"emergency": clinic.emergency_number, "out_of_hours": clinic.out_of_hours_number,
              "name": clinic.name, "phone": clinic.phone or clinic.out_of_hours_number}
    if_worse = _("If you feel worse, or get chest pain or trouble breathing, call "
                 "%(emergency)s. For other urgent advice call %(out_of_hours)s.") % values
    if urgency == Urgency.EMERGENCY:
        return NextSteps(
            who_and_when=_("Call %(emergency)s now: do not wait for us. A clinician from "
                           "%(name)s will also look at your answers.") % values,
            if_nobody=_("If you cannot make the call, ask someone near you to call "
                        "%(emergency)s.") % values,
            if_worse=_("Do not drive yourself to hospital. Stay on the line when you call "
                       "%(emergency)s.") % values)
    if urgency == Urgency.URGENT:
        closes = closing_time(clinic, at)
        if closes is not None:
            return NextSteps(
                who_and_when=_("A clinician from %(name)s will phone you today, before "
                               "%(time)s.") % {**values, "time": _clock(closes)},
                if_nobody=_("If nobody has phoned you by %(time)s, call us on %(phone)s; after "
                            "we close, call %(out_of_hours)s.") % {**values,
                                                                    "time": _clock(closes)},
                if_worse=if_worse)
        opens = next_opening(clinic, at)
        return NextSteps(
            who_and_when=(_("Call %(out_of_hours)s now for urgent advice. %(name)s is closed; a "
                            "clinician will also look at your answers when we open, %(when)s.")
                          % {**values, "when": _day_and_clock(opens, at)} if opens else
                          _("Call %(out_of_hours)s now for urgent advice. %(name)s is closed; a "
                            "clinician will also look at your answers when we open.") % values),
            if_nobody=_("Do not wait for us: call %(out_of_hours)s now.") % values,
            if_worse=if_worse)
    if urgency == Urgency.SOON:
        by = at + datetime.timedelta(hours=clinic.soon_review_hours)
        if appointment_at is not None and appointment_at < by:
            by = appointment_at
        local = local_time(clinic, by)
        return NextSteps(
            who_and_when=_("A clinician will read your answers by %(when)s, and will phone you "
                           "if they need to.") % {"when": _day_and_clock(local, at)},
            if_nobody=_("You do not need to do anything if nobody phones: come to your "
                        "appointment as planned. Questions: call us on %(phone)s.") % values,
            if_worse=if_worse)
    return NextSteps(
        who_and_when=_("Your physiotherapist will read your answers before your appointment. "
                       "Nobody will phone you about them unless they need to."),
        if_nobody=_("Come to your appointment as planned. Questions: call us on %(phone)s.")
        % values,
        if_worse=if_worse)


def _clock(moment: datetime.datetime) -> str:
    return f"{moment:%H:%M}"


def _day_and_clock(moment: datetime.datetime, now: datetime.datetime) -> str:
    local_now = moment.tzinfo and now.astimezone(moment.tzinfo)
    if local_now and moment.date() == local_now.date():
        return _("%(time)s today") % {"time": _clock(moment)}
    if local_now and moment.date() == local_now.date() + datetime.timedelta(days=1):
        return _("%(time)s tomorrow") % {"time": _clock(moment)}
    return _("%(date)s at %(time)s") % {"date": date_format(moment, "l j F"),
                                         "time": _clock(moment)}
