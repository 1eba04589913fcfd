"""One urgency type for the whole service, and channels that carry their own address (issue 13:
a channel other than email could once be sent to the webhook address)."""

from clinic.models import Clinician
from intake.models import Submission
from screening.models import Flag, Rule
from screening.urgency import PAGING, RANK, Tier, Urgency


def test_urgency_ranks_most_urgent_first_and_only_emergencies_and_urgent_cases_page():
    assert [u.value for u in sorted(Urgency, key=lambda u: u.rank)] == [
        "emergency", "urgent", "soon", "routine"]
    assert [u for u in Urgency if u.pages] == [Urgency.EMERGENCY, Urgency.URGENT]
    assert {"emergency", "urgent"} == PAGING
    assert RANK["soon"] == Urgency.SOON.rank == 2


def test_every_model_uses_the_one_urgency_type():
    assert Submission.Urgency is Urgency
    assert Submission._meta.get_field("urgency").choices == Urgency.choices
    assert Rule._meta.get_field("tier").choices == Flag._meta.get_field("tier").choices == \
        Tier.choices == [c for c in Urgency.choices if c[0] != Urgency.ROUTINE]


def test_each_channel_carries_its_own_address():
    clinician = Clinician(name="Casey", email="casey@example.org",
                          webhook_url="https://hooks.example.org/casey")

    assert clinician.channels == [("email", "casey@example.org"),
                                  ("webhook", "https://hooks.example.org/casey")]
    assert Clinician(name="Webhook only", webhook_url="https://h.example.org/w").channels == [
        ("webhook", "https://h.example.org/w")]
    assert Clinician(name="Nobody").channels == []
