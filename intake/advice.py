"""What the patient is told at once, for each urgency tier (triage-rules.md, "Urgency tiers").

One source for the API's ``advice`` string and the advice page, so the two never disagree.
"""

import dataclasses
import datetime
from dataclasses import dataclass

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
        advice = dataclasses.replace(advice, safety_net=(
            f"Your answers could mean a heart problem. If you have the pain now, or it comes back "
            f"and lasts more than 15 minutes, call {emergency} now. Do not wait for our call."
        ))
    return advice


def _advice(urgency: str, clinic: Clinic, at: datetime.datetime) -> Advice:
    emergency = clinic.emergency_number
    if urgency == Urgency.EMERGENCY:
        return Advice(
            urgency,
            headline=f"Call {emergency} now.",
            text=(f"Your answers suggest you may need emergency care. Call {emergency} now and "
                  "tell them about your symptoms. Do not wait for your appointment or for us "
                  "to call you."),
            call_number=emergency,
        )
    if urgency == Urgency.URGENT:
        if is_open(clinic, at):
            return Advice(
                urgency,
                headline="We will phone you today.",
                text=(f"A clinician from {clinic.name} will phone you today to talk about your "
                      f"answers. If you feel worse before then, call {emergency}."),
            )
        return Advice(
            urgency,
            headline=f"Call {clinic.out_of_hours_number} now for urgent advice.",
            text=(f"Your answers need a clinician to look at them today, and {clinic.name} is "
                  f"closed now (we are open {describe_hours(clinic)}). Call "
                  f"{clinic.out_of_hours_number} now for urgent medical advice. If you feel "
                  f"worse, call {emergency}."),
            call_number=clinic.out_of_hours_number,
            clinic_open=False,
        )
    if urgency == Urgency.SOON:
        return Advice(
            urgency,
            headline="Thank you. A clinician will look at your answers.",
            text=("A clinician will read your answers before your appointment and will contact "
                  f"you if they need to. If you feel worse, call {clinic.out_of_hours_number}, "
                  f"or {emergency} in an emergency."),
        )
    return Advice(
        urgency,
        headline="Thank you. We will see you at your appointment.",
        text=("Your answers have been sent to your physiotherapist. If your symptoms change or "
              f"you feel worse before then, call {clinic.out_of_hours_number}, or {emergency} "
              "in an emergency."),
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
    emergency, out_of_hours = clinic.emergency_number, clinic.out_of_hours_number
    phone = f" on {clinic.phone}" if clinic.phone else ""
    if_worse = (f"If you feel worse, or get chest pain or trouble breathing, call {emergency}. "
                f"For other urgent advice call {out_of_hours}.")
    if urgency == Urgency.EMERGENCY:
        return NextSteps(
            who_and_when=(f"Call {emergency} now: do not wait for us. A clinician from "
                          f"{clinic.name} will also look at your answers."),
            if_nobody=f"If you cannot make the call, ask someone near you to call {emergency}.",
            if_worse=f"Do not drive yourself to hospital. Stay on the line when you call "
                     f"{emergency}.")
    if urgency == Urgency.URGENT:
        closes = closing_time(clinic, at)
        if closes is not None:
            return NextSteps(
                who_and_when=f"A clinician from {clinic.name} will phone you today, before "
                             f"{_clock(closes)}.",
                if_nobody=f"If nobody has phoned you by {_clock(closes)}, call us{phone}; "
                          f"after we close, call {out_of_hours}.",
                if_worse=if_worse)
        opens = next_opening(clinic, at)
        return NextSteps(
            who_and_when=(f"Call {out_of_hours} now for urgent advice. {clinic.name} is closed; "
                          + (f"a clinician will also look at your answers when we open, "
                             f"{_day_and_clock(opens, at)}." if opens else
                             "a clinician will also look at your answers when we open.")),
            if_nobody=f"Do not wait for us: call {out_of_hours} now.",
            if_worse=if_worse)
    if urgency == Urgency.SOON:
        by = at + datetime.timedelta(hours=clinic.soon_review_hours)
        if appointment_at is not None and appointment_at < by:
            by = appointment_at
        local = local_time(clinic, by)
        return NextSteps(
            who_and_when=(f"A clinician will read your answers by {_day_and_clock(local, at)}, "
                          "and will phone you if they need to."),
            if_nobody=("You do not need to do anything if nobody phones: come to your "
                       f"appointment as planned. Questions: call us{phone}."),
            if_worse=if_worse)
    return NextSteps(
        who_and_when=("Your physiotherapist will read your answers before your appointment. "
                      "Nobody will phone you about them unless they need to."),
        if_nobody=f"Come to your appointment as planned. Questions: call us{phone}.",
        if_worse=if_worse)


def _clock(moment: datetime.datetime) -> str:
    return f"{moment:%H:%M}"


def _day_and_clock(moment: datetime.datetime, now: datetime.datetime) -> str:
    local_now = moment.tzinfo and now.astimezone(moment.tzinfo)
    if local_now and moment.date() == local_now.date():
        return f"{_clock(moment)} today"
    if local_now and moment.date() == local_now.date() + datetime.timedelta(days=1):
        return f"{_clock(moment)} tomorrow"
    return f"{moment:%A} {moment.day} {moment:%B} at {_clock(moment)}"
