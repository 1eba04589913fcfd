"""What the patient is told at once, for each urgency tier (triage-rules.md, "Urgency tiers").

One source for the API's ``advice`` string and the advice page, so the two never disagree.
"""

import dataclasses
import datetime
from dataclasses import dataclass

from clinic.hours import describe_hours, is_open
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
