"""The Jinja2 environment of the templates under ``templates/jinja2/``: the queue's rows, which
every open queue page renders again whenever a case changes, for each clinician.

Django's own template language took about 13 ms of a CPU to render 50 rows, most of a request;
Jinja2 compiles a template to Python and renders the same rows several times faster
(``docs/performance.md``).  The rest of the site stays in Django's templates.  What the rows
need of Django is here: ``case_url``, the ``date`` and ``timesince`` filters as Django's
templates have them, the ``age_and_sex`` filter, and the appointment note, rendered by its
Django template (``clinic/_appointment_note.html``, which the case page shares)."""

import functools

from django.template.loader import render_to_string
from django.templatetags.tz import localtime
from django.urls import get_script_prefix, reverse
from django.utils import dateformat
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from jinja2 import Environment

from clinic.review.cases import appointment_note
from clinic.templatetags.cases import age_and_sex


def _date(value, format_string: str) -> str:
    """Django's ``date`` filter: the moment in the current time zone, formatted."""
    return dateformat.format(localtime(value), format_string)


def _appointment(case) -> str:
    return mark_safe(render_to_string(  # noqa: S308 (rendered by Django, which escapes)
        "clinic/_appointment_note.html", {"note": appointment_note(case)}))


@functools.lru_cache(maxsize=8)
def _case_url_pattern(script_prefix: str) -> str:
    return reverse("case-detail", args=[_REFERENCE])


_REFERENCE = "REFERENCE"


def case_url(reference: str) -> str:
    """``reverse("case-detail", args=[reference])``, without resolving it for every row (a
    reference is letters, digits and hyphens, which a URL keeps as they are)."""
    return _case_url_pattern(get_script_prefix()).replace(_REFERENCE, reference)


def environment(**options) -> Environment:
    env = Environment(**options)  # noqa: S701 (Django's backend turns autoescape on)
    env.globals.update(case_url=case_url, appointment=_appointment)
    env.filters.update(date=_date, timesince=timesince, age_and_sex=age_and_sex)
    return env
