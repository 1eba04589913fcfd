"""core.db: the hot path's compiled read and many-row insert do what the ORM would."""


import pytest
from django.db.models import CharField, F, Value
from django.db.models.functions import Concat

from clinic.models import Clinic
from core.db import CompiledRead

pytestmark = pytest.mark.django_db


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
