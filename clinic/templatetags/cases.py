from django import template

register = template.Library()


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
