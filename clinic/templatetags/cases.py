from django import template

register = template.Library()


@register.filter
def answer_display(value) -> str:
    """An answer as a clinician reads it: Yes/No, choices joined with commas, text as is."""
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return "" if value is None else str(value)
