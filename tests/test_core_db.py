"""core.db: the hot path's compiled read and many-row insert do what the ORM would."""

import datetime

import pytest
from django.db.models import CharField, F, Value
from django.db.models.functions import Concat

from clinic.models import Clinic, Clinician, Leave, NotificationRule, OpeningHours
from core.db import CompiledRead, insert_rows

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def clinic_named(pk):
    return (Clinic.objects.filter(pk=pk)
            .annotate(label=Concat(F("name"), Value(" / "), F("slug"), output_field=CharField()))
            .values_list("name", "is_default", "label"))


def test_a_compiled_read_gives_what_the_queryset_gives_for_any_argument():
    other = Clinic.objects.create(name="Kempston", slug="kempston")
    default = Clinic.objects.get(is_default=True)
    read = CompiledRead(clinic_named)
    for clinic in (default, other, default):
        assert read.first(clinic.pk) == clinic_named(clinic.pk).first()
    assert read.first(other.pk)[1] is False  # converted as the ORM converts (SQLite's 0)
    assert read.first(999_999) is None


def test_a_query_whose_shape_depends_on_its_argument_is_refused():
    read = CompiledRead(lambda n: Clinic.objects.filter(pk__in=list(range(n))).values_list("pk"))
    with pytest.raises(ValueError, match="shape depends on its argument"):
        read.first(3)


def test_insert_rows_stores_what_bulk_create_would():
    clinic = Clinic.objects.create(name="Kempston", slug="kempston")
    rows = [(clinic.pk, 5, datetime.time(9, 30), datetime.time(12)),
            (clinic.pk, 6, datetime.time(10), datetime.time(11, 45))]
    insert_rows(OpeningHours, ("clinic", "weekday", "opens", "closes"), rows)
    insert_rows(OpeningHours, ("clinic", "weekday", "opens", "closes"), [])
    stored = list(OpeningHours.objects.filter(clinic=clinic).order_by("weekday")
                  .values_list("clinic_id", "weekday", "opens", "closes"))
    assert stored == rows


def leave_touching(clinician_pk, first_day, last_day):
    return (Leave.objects.filter(clinician=clinician_pk, first_day__lte=last_day,
                                 last_day__gte=first_day)
            .order_by("first_day").values_list("first_day", "last_day"))


def test_a_compiled_read_takes_dates_and_gives_every_row():
    who = Clinician.objects.create(name="Dr Away", email="away@clinic.test")
    june = [datetime.date(2025, 6, day) for day in range(1, 31)]
    Leave.objects.bulk_create([Leave(clinician=who, first_day=june[1], last_day=june[3]),
                               Leave(clinician=who, first_day=june[9], last_day=june[9])])
    read = CompiledRead(leave_touching, arguments=(int, datetime.date, datetime.date))
    for first_day, last_day in [(june[0], june[29]), (june[2], june[8]), (june[4], june[8])]:
        assert read.rows(who.pk, first_day, last_day) == list(
            leave_touching(who.pk, first_day, last_day))
    assert read.first(who.pk, june[9], june[9]) == (june[9], june[9])


def test_a_query_using_a_value_computed_from_its_argument_is_refused():
    read = CompiledRead(lambda day: Leave.objects.filter(first_day__lte=day - DAY)
                        .values_list("pk"), arguments=(datetime.date,))
    with pytest.raises(ValueError, match="computed from an argument"):
        read.rows(datetime.date(2025, 6, 1))


def test_insert_rows_skips_conflicts_and_says_which_rows_it_wrote():
    who = Clinician.objects.create(name="Dr Rule", email="rule@clinic.test")
    fields = ("clinician", "urgency", "channel", "delay_minutes", "position")
    first = insert_rows(NotificationRule, fields, [(who.pk, "urgent", "email", 0, 0)],
                        ignore_conflicts=True, returning=("id", "channel"))
    # The email rule is there already (one per channel): only the text message is new.
    written = insert_rows(NotificationRule, fields, [(who.pk, "urgent", "email", 5, 1),
                                                     (who.pk, "urgent", "sms", 10, 2)],
                          ignore_conflicts=True, returning=("id", "delay_minutes"))
    rules = {rule.channel: rule for rule in NotificationRule.objects.filter(clinician=who)}
    assert first == [(rules["email"].pk, "email")]
    assert written == [(rules["sms"].pk, 10)]
    assert (rules["email"].delay_minutes, rules["email"].position) == (0, 0)
