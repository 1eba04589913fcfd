from django import template

from clinic.review.cases import appointment_note

register = template.Library()


@register.inclusion_tag("clinic/_appointment_note.html")
def appointment(submission) -> dict:
    """The case's appointment, with a warning when a soon case's appointment is sooner than
    the clinic's review window."""
    return {"note": appointment_note(submission)}


@register.filter
def age_and_sex(submission) -> str:
    """e.g. "67, female": the age on the day they submitted and the answer about sex."""
    parts = []
    if submission.age is not None:
        parts.append(str(submission.age))
    if submission.sex:
        parts.append(str(submission.sex).replace("_", " "))
    return ", ".join(parts) or "age and sex not known"


@register.filter
def derived_display(value: dict) -> str:
    """A derived value on a flag: yes/no, or the number (a score's points, an age)."""
    shown = value.get("value")
    if shown is True:
        return "Yes"
    if shown is False:
        return "No"
    return str(shown)


@register.filter
def answer_display(value, question=None) -> str:
    """An answer as a clinician reads it: Yes/No, choices by the labels the patient saw (when
    the question is given, its choices loaded), joined with commas, text as is."""
    if question is not None and isinstance(value, str | list):
        labels = {choice.value: choice.label for choice in question.choices.all()}
        if labels:
            values = value if isinstance(value, list) else [value]
            return ", ".join(labels.get(v, v) for v in values) or "none"
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return "" if value is None else str(value)
