"""A burst of urgent intakes pages the duty clinician twice, not once per intake: the first at
once, then one digest naming the others when the burst's window ends.  Emergencies and
escalations are never held; an acknowledged alert is left out; each held notification is
claimed once, even by runs racing for it, and a digest whose worker died mid-send is handed on
by the sweep.

Two kinds of test.  The first half controls time: intakes go through ``submit_intake`` with
``now`` set, their tasks are queued to a Redis of the test's own that no worker reads, and the
test runs the sweep and the deliveries itself with ``now`` before and after the window's end,
sending to a real mail server on loopback.  The second half is end to end: real Celery worker
and beat processes, intakes through ``POST /api/submissions/``, and a window a few seconds long
(``ALERT_GROUP_MINUTES`` takes decimals) so the real clock closes it.
"""

import datetime
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from clinic.alerting import alerts, delivery
from clinic.models import Alert, DeliveryAttempt, Notification
from intake.services.submissions import submit_intake
from support.real_services import wait_until
from tests.factories import (
    COMMITTED,
    SECOND,
    SITE_URL,
    URGENT_FEVER,
    date_of_birth_for,
    patient_aged,
    patient_data_in,
    post_submission,
    routine_answers,
    wait_for_status,
    wait_for_sweeps,
)

pytestmark = [pytest.mark.postgres, COMMITTED]

EMERGENCY = routine_answers(chest_pain=True)  # rule "cardiac_chest_pain"
WINDOW = datetime.timedelta(minutes=10)  # ALERT_GROUP_MINUTES' default
MINUTE = datetime.timedelta(minutes=1)
QUEUE_LINK = f"{SITE_URL}/queue/"


def intake_at(now: datetime.datetime, answers=URGENT_FEVER) -> str:
    """An intake submitted at ``now`` (the test's clock) through the one submission service;
    returns its reference."""
    patient = patient_aged(40, timezone.localtime(now).date())
    return submit_intake(patient=patient, answers=answers, now=now).submission.reference


def first_notification(reference: str) -> Notification:
    return Notification.objects.get(alert__submission__reference=reference, level=0)


def queued_tasks(redis_server) -> list[tuple[str, list]]:
    return [(m["headers"]["task"], m["decoded_body"][0])
            for m in redis_server.queued_task_messages("alerts")]


def patient_data_in_mail(mail, submitted_on: datetime.date) -> list[str]:
    """What of the patient's details (``tests.factories.PATIENT_DATA``, and the date of
    birth ``intake_at`` and ``submit`` give them) the message carries: it must be nothing."""
    text = mail.raw.decode() + text_of(mail)
    born = date_of_birth_for(40, submitted_on)
    return patient_data_in(text) + [
        form for form in (born.isoformat(), f"{born:%d/%m/%Y}") if form in text]


def text_of(mail) -> str:
    return mail.text.replace("\r\n", "\n")


def case_link(reference: str) -> str:
    return f"{SITE_URL}/cases/{reference}/"


def at_the_same_instant(call, *, copies: int) -> list:
    """Run ``copies`` calls of ``call`` released at the same instant, each in a thread with a
    database connection of its own; return what they returned (failing on any error)."""
    barrier = threading.Barrier(copies)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(call())
        except Exception as error:  # reported below, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a run hung"
    assert not errors, errors
    return results


@pytest.fixture(autouse=True)
def default_window(settings):
    """The default window, whatever the environment running the tests says."""
    settings.ALERT_GROUP_MINUTES = WINDOW.total_seconds() / 60


@pytest.fixture
def start():
    """The moment the test's first intake arrives: an hour ago, to the second, so every moment
    the test passes to the service is behind the real clock, which stamps what the service
    does not take ``now`` for (failures, queuing)."""
    return timezone.now().replace(microsecond=0) - datetime.timedelta(hours=1)


# --- The window, with the test's clock -------------------------------------------------------


def test_the_first_urgent_alert_pages_at_once_and_the_rest_of_the_burst_is_one_digest(
        broker, rota, smtp, redis_server, alert_settings, start):
    first = intake_at(start)
    held = [intake_at(start + offset) for offset in (MINUTE, 5 * MINUTE, WINDOW - SECOND)]

    # The first is due at once and was queued on commit; the others wait for the window's end
    # and were not queued at all.
    page = first_notification(first)
    assert (page.grouped, page.next_attempt_at, page.clinician) == (False, start, rota.duty)
    waiting = [first_notification(reference) for reference in held]
    assert {(n.grouped, n.status, n.next_attempt_at, n.clinician) for n in waiting} == {
        (True, Notification.Status.PENDING, start + WINDOW, rota.duty)}
    assert queued_tasks(redis_server) == [("clinic.deliver_notification", [page.pk])]

    assert delivery.deliver(page.pk, now=start).delivered
    [single] = smtp.wait_for_messages(1)
    assert single.message["Subject"] == f"[URGENT] Intake {first} needs a clinician"

    # A held notification is never sent on its own, whoever asks.
    assert not delivery.deliver(waiting[0].pk, now=start + WINDOW).claimed
    # Before the window's end the sweep leaves them; at its end it queues one digest.
    assert alerts.sweep(now=start + WINDOW - SECOND).digests == 0
    report = alerts.sweep(now=start + WINDOW)
    assert (report.queued, report.digests) == (3, 1)
    assert sorted(queued_tasks(redis_server)) == [
        ("clinic.deliver_digest", [rota.duty.pk]), ("clinic.deliver_notification", [page.pk])]

    outcome = delivery.deliver_digest(rota.duty.pk, now=start + WINDOW)
    assert (outcome.claimed, outcome.delivered) == (3, 3)
    [_, digest] = smtp.wait_for_messages(2)
    assert digest.recipients == ("duty@clinic.test",)
    assert digest.message["Subject"] == "[URGENT] 3 more urgent cases in the last 10 minutes"
    assert text_of(digest).startswith(
        f"3 more urgent cases in the last 10 minutes: {', '.join(held)}.\n")
    assert QUEUE_LINK in text_of(digest)
    assert all(f"{reference}: the patient was told: a clinician will phone them today."
               in text_of(digest) for reference in held)
    assert all(f"Open the case: {case_link(reference)}" in text_of(digest) for reference in held)
    assert first not in text_of(digest) + digest.message["Subject"]
    assert digest.message_id.startswith("<alert-digest-")
    assert patient_data_in_mail(digest, timezone.localtime(start).date()) == []

    # Each held notification delivered once, by one attempt that names the digest it was in.
    for notification in waiting:
        notification.refresh_from_db()
        assert notification.status == Notification.Status.DELIVERED
        assert [(a.channel, a.outcome, a.digest_token) for a in notification.attempts.all()] == [
            ("email", "sent", notification.claim_token)]
    assert len({n.claim_token for n in waiting}) == 1

    # Nothing left: the same digest again claims nothing, the sweep queues nothing.
    assert delivery.deliver_digest(rota.duty.pk, now=start + WINDOW + MINUTE).claimed == 0
    assert alerts.sweep(now=start + WINDOW + MINUTE).queued == 0
    assert len(smtp.messages) == 2


def test_an_urgent_alert_once_the_window_has_ended_opens_a_new_burst_and_pages_at_once(
        broker, rota, smtp, alert_settings, start):
    intake_at(start)
    intake_at(start + MINUTE)
    delivery.deliver_digest(rota.duty.pk, now=start + WINDOW)

    reopened = first_notification(intake_at(start + WINDOW))  # the window is [start, +10 min)
    assert (reopened.grouped, reopened.next_attempt_at) == (False, start + WINDOW)
    in_second_burst = first_notification(intake_at(start + WINDOW + MINUTE))
    assert (in_second_burst.grouped, in_second_burst.next_attempt_at) == (
        True, start + 2 * WINDOW)


def test_a_first_page_that_failed_on_every_channel_does_not_open_a_burst(
        broker, rota, start):
    failed = first_notification(intake_at(start))
    Notification.objects.filter(pk=failed.pk).update(status=Notification.Status.FAILED)

    retried = first_notification(intake_at(start + MINUTE))
    assert (retried.grouped, retried.next_attempt_at) == (False, start + MINUTE)
    held = first_notification(intake_at(start + 2 * MINUTE))
    assert (held.grouped, held.next_attempt_at) == (True, start + MINUTE + WINDOW)


def test_emergencies_are_never_held_and_do_not_open_a_burst(broker, rota, start):
    emergency = first_notification(intake_at(start, EMERGENCY))
    urgent = first_notification(intake_at(start + MINUTE))
    second_emergency = first_notification(intake_at(start + 2 * MINUTE, EMERGENCY))
    held = first_notification(intake_at(start + 3 * MINUTE))

    assert (emergency.grouped, emergency.next_attempt_at) == (False, start)
    # The urgent alert after an emergency is the first urgent one: paged at once.
    assert (urgent.grouped, urgent.next_attempt_at) == (False, start + MINUTE)
    assert (second_emergency.grouped, second_emergency.next_attempt_at) == (
        False, start + 2 * MINUTE)
    assert (held.grouped, held.next_attempt_at) == (True, start + MINUTE + WINDOW)


def test_a_held_alert_escalates_on_its_own_schedule_and_its_escalation_is_not_held(
        broker, rota, smtp, alert_settings, start):
    first = intake_at(start)
    held_reference = intake_at(start + MINUTE)
    held = Alert.objects.get(submission__reference=held_reference)
    assert held.escalate_at == start + MINUTE + datetime.timedelta(minutes=30)
    delivery.deliver_digest(rota.duty.pk, now=start + WINDOW)

    # Nobody acknowledges: each alert escalates at its own time, to the backup, at once.
    assert alerts.sweep(now=held.escalate_at - MINUTE).escalated == 1  # the first one
    assert alerts.sweep(now=held.escalate_at).escalated == 1
    escalations = Notification.objects.filter(level=1).order_by("alert__created_at")
    assert [(n.alert.submission.reference, n.clinician, n.grouped) for n in escalations] == [
        (first, rota.backup, False), (held_reference, rota.backup, False)]
    to_backup = escalations.get(alert=held)
    assert to_backup.next_attempt_at == held.escalate_at
    assert delivery.deliver(to_backup.pk, now=held.escalate_at).delivered
    assert smtp.to("backup@clinic.test")[-1].message["Subject"] == (
        f"[URGENT] Intake {held_reference} needs a clinician (escalated: not yet acknowledged)")


def test_acknowledged_alerts_are_left_out_of_the_digest(
        broker, rota, smtp, clinician_client, alert_settings, start):
    intake_at(start)
    seen, unseen, seen_late = (intake_at(start + n * MINUTE) for n in (1, 2, 3))

    # Acknowledged through the API while held: its notification is cancelled at once.
    response = clinician_client.post(f"/api/submissions/{seen}/acknowledge/")
    assert response.status_code == 200, response.content
    assert first_notification(seen).status == Notification.Status.CANCELLED
    # Acknowledged as the digest is claimed (written here behind the service's back, as a
    # concurrent acknowledgement could land): the digest still leaves it out.
    Alert.objects.filter(submission__reference=seen_late).update(acknowledged_at=start)

    outcome = delivery.deliver_digest(rota.duty.pk, now=start + WINDOW)
    assert (outcome.claimed, outcome.delivered) == (2, 1)
    [digest] = smtp.messages
    assert digest.message["Subject"] == "[URGENT] 1 more urgent case in the last 10 minutes"
    assert f": {unseen}.\n" in text_of(digest)
    assert seen not in text_of(digest) and seen_late not in text_of(digest)
    assert [first_notification(r).status for r in (seen, unseen, seen_late)] == [
        Notification.Status.CANCELLED, Notification.Status.DELIVERED,
        Notification.Status.CANCELLED]
    assert not DeliveryAttempt.objects.filter(
        notification__alert__submission__reference__in=[seen, seen_late]).exists()


def test_a_digest_that_fails_retries_with_backoff_then_goes_by_webhook(
        broker, rota, smtp, webhooks, redis_server, alert_settings, start):
    intake_at(start)
    held = [intake_at(start + n * MINUTE) for n in (1, 2)]
    smtp.stop()  # every connection refused

    # Three retries on email with the single alert's backoff (counted from each failure, by
    # the real clock), the held ones staying together.
    due = start + WINDOW
    for delay in delivery.retry_delays():
        assert delivery.deliver_digest(rota.duty.pk, now=due).delivered == 0
        notifications = [first_notification(reference) for reference in held]
        for notification in notifications:
            failed_at = notification.attempts.last().finished_at
            assert abs(notification.next_attempt_at - failed_at - delay) < SECOND
        assert {(n.status, n.grouped, n.channel_index) for n in notifications} == {
            (Notification.Status.PENDING, True, 0)}
        due = max(n.next_attempt_at for n in notifications)
    # The fourth failure moves them to the webhook, at once: a digest is queued for it.
    delivery.deliver_digest(rota.duty.pk, now=due)
    assert {(n.channel_index, n.status) for n in map(first_notification, held)} == {
        (1, Notification.Status.PENDING)}
    assert queued_tasks(redis_server).count(("clinic.deliver_digest", [rota.duty.pk])) == 1

    assert delivery.deliver_digest(rota.duty.pk, now=due).delivered == 2
    [hook] = webhooks.hooks
    assert hook.path == "/hooks/duty"
    assert hook.headers["Idempotency-Key"].startswith("alert-digest-")
    assert hook.headers["X-Clinic-Signature"].startswith("t=")
    # An hour after the first of them (the test's clock): the message says so.
    minutes = hook.json()["minutes"]
    assert minutes > 60
    page = hook.json()
    cases = page.pop("cases")
    assert page == {
        "digest": True, "urgency": "urgent", "count": 2, "minutes": minutes,
        "link": QUEUE_LINK, "escalation_level": 0,
        "text": f"[URGENT] 2 more urgent cases in the last {minutes} minutes",
        "short_text": f"[URGENT] 2 more urgent cases in the last {minutes} minutes: "
                      f"{', '.join(held)}. Open the queue: {QUEUE_LINK}",
    }
    # Each case: its links, what the patient was told and when it escalates.
    assert [(c["reference"], c["link"], c["patient_told"]) for c in cases] == [
        (r, case_link(r), "a clinician will phone them today") for r in held]
    assert all(c["acknowledge_link"].startswith(f"{SITE_URL}/alerts/") for c in cases)
    assert [c["escalates_at"] for c in cases] == [
        Alert.objects.get(submission__reference=r).escalate_at.isoformat() for r in held]
    assert patient_data_in(hook.body.decode()) == []
    for reference in held:
        attempts = first_notification(reference).attempts.all()
        assert [(a.channel, a.outcome) for a in attempts] == [
            ("email", "temporary_failure")] * 4 + [("webhook", "sent")]


def test_two_urgent_intakes_committing_at_once_open_one_burst(broker, rota, start):
    """Both intakes are decided at the same instant on their own connections: the lock on the
    clinician's row makes one wait for the other's commit, so exactly one pages at once."""
    references = at_the_same_instant(lambda: intake_at(start), copies=2)
    assert sorted(first_notification(r).grouped for r in references) == [False, True]


def test_the_same_digest_run_many_times_at_once_claims_each_notification_once(
        broker, rota, smtp, alert_settings, start):
    smtp.handler.delay = 0.5  # a slow server, so the runs overlap the send
    intake_at(start)
    held = [intake_at(start + n * MINUTE) for n in (1, 2, 3)]
    outcomes = at_the_same_instant(
        lambda: delivery.deliver_digest(rota.duty.pk, now=start + WINDOW), copies=8)

    assert sorted((o.claimed, o.delivered) for o in outcomes) == [(0, 0)] * 7 + [(3, 3)]
    assert len(smtp.messages) == 1
    assert smtp.handler.entered == 1
    for reference in held:
        assert [a.outcome for a in first_notification(reference).attempts.all()] == ["sent"]


def test_with_grouping_off_every_urgent_alert_pages_at_once(broker, rota, settings, start):
    settings.ALERT_GROUP_MINUTES = 0
    notifications = [first_notification(intake_at(start + n * SECOND)) for n in range(3)]
    assert [(n.grouped, n.next_attempt_at) for n in notifications] == [
        (False, start + n * SECOND) for n in range(3)]


def test_an_alert_is_never_held_past_its_escalation_time(broker, rota, start):
    rota.clinic.urgent_escalation_minutes = 5  # shorter than the 10-minute window
    rota.clinic.save()
    intake_at(start)
    # Due in the digest at +10 min, but it escalates at +6 min: paged at once instead.
    early = first_notification(intake_at(start + MINUTE))
    assert (early.grouped, early.next_attempt_at) == (False, start + MINUTE)
    # Once the window ends before the alert escalates, it is held again.  (The page just
    # above opened its own window: alerts raised after it wait for that one's end.)
    late = first_notification(intake_at(start + 6 * MINUTE))
    assert (late.grouped, late.next_attempt_at) == (True, start + MINUTE + WINDOW)


# --- End to end: real worker and beat, the real clock ---------------------------------------


@pytest.fixture
def short_window(settings, worker_env):
    """A burst window of a few seconds, for this process (which decides, when an intake is
    raised, whether it is held) and for the worker and beat the test starts."""
    seconds = 12

    def apply(length: int = seconds) -> datetime.timedelta:
        settings.ALERT_GROUP_MINUTES = length / 60
        worker_env["ALERT_GROUP_MINUTES"] = str(length / 60)
        return datetime.timedelta(seconds=length)

    return apply


def submit(client, answers=URGENT_FEVER, urgency="urgent") -> str:
    response = post_submission(client, {"patient": patient_aged(40, timezone.localdate()),
                                        "answers": answers})
    assert response.status_code == 201, response.content
    assert response.json()["urgency"] == urgency
    return response.json()["reference"]


def test_five_urgent_intakes_in_a_burst_reach_the_duty_clinician_as_two_pages(
        client, broker, rota, smtp, short_window, celery_processes):
    # Eight seconds: five intakes and the first page take well under two, even on CI.
    window = short_window(8)
    celery_processes.worker(beat=True)

    references = [submit(client) for _ in range(5)]
    notifications = [first_notification(r) for r in references]
    opened_at = notifications[0].created_at
    assert all(n.created_at < opened_at + window for n in notifications), (
        "the five intakes took longer than the window: the machine is too slow for this test")

    # The first page arrives while the other four are still held.
    [page] = smtp.wait_for_messages(1, detail=celery_processes.logs)
    assert page.message["Subject"] == f"[URGENT] Intake {references[0]} needs a clinician"
    held = notifications[1:]
    for notification in held:
        notification.refresh_from_db()
    assert {(n.grouped, n.status, n.next_attempt_at) for n in held} == {
        (True, Notification.Status.PENDING, opened_at + window)}

    # At the window's end, one digest naming the other four.
    [_, digest] = smtp.wait_for_messages(2, timeout=60, detail=celery_processes.logs)
    for notification in notifications:
        wait_for_status(notification, Notification.Status.DELIVERED,
                        detail=celery_processes.logs)
    wait_for_sweeps(3, detail=celery_processes.logs)  # later sweeps send nothing more
    assert len(smtp.messages) == 2
    assert digest.received_at >= (opened_at + window).timestamp()
    assert digest.recipients == ("duty@clinic.test",)
    assert digest.message["Subject"] == "[URGENT] 4 more urgent cases in the last minute"
    assert text_of(digest).startswith(
        f"4 more urgent cases in the last minute: {', '.join(references[1:])}.\n")
    assert QUEUE_LINK in text_of(digest)
    assert references[0] not in text_of(digest)
    assert patient_data_in_mail(digest, timezone.localdate()) == []

    # Each notification delivered exactly once, by exactly one attempt.
    for notification in notifications:
        assert [(a.channel, a.outcome) for a in notification.attempts.all()] == [
            ("email", "sent")]
    assert len({a.digest_token for n in held for a in n.attempts.all()}) == 1
    assert notifications[0].attempts.get().digest_token is None


def test_an_emergency_in_the_middle_of_an_urgent_burst_pages_at_once(
        client, broker, rota, smtp, celery_processes, alert_settings):
    celery_processes.worker()  # the window is the default 10 minutes
    first = submit(client)
    smtp.wait_for_messages(1, detail=celery_processes.logs)
    held_before = submit(client)

    emergency = submit(client, EMERGENCY, "emergency")
    [_, page] = smtp.wait_for_messages(2, detail=celery_processes.logs)
    assert page.message["Subject"] == f"[EMERGENCY] Intake {emergency} needs a clinician"
    wait_for_status(first_notification(emergency), Notification.Status.DELIVERED)
    held_after = submit(client)

    # The emergency neither waited nor moved the burst: both urgent ones wait for its end.
    window_end = first_notification(first).created_at + WINDOW
    for reference in (held_before, held_after):
        notification = first_notification(reference)
        assert (notification.grouped, notification.status, notification.next_attempt_at) == (
            True, Notification.Status.PENDING, window_end)
    time.sleep(1)  # the worker is running: anything it had been given would have arrived
    assert len(smtp.messages) == 2

    # At the window's end (the test's clock), one digest with the two urgent ones only.
    assert delivery.deliver_digest(rota.duty.pk, now=window_end).delivered == 2
    [_, _, digest] = smtp.wait_for_messages(3)
    assert digest.message["Subject"] == "[URGENT] 2 more urgent cases in the last 10 minutes"
    assert f": {held_before}, {held_after}.\n" in text_of(digest)
    assert emergency not in text_of(digest)


def test_after_the_digest_the_next_urgent_alert_opens_a_new_burst_and_pages_at_once(
        client, broker, rota, smtp, short_window, celery_processes):
    short_window(3)  # each burst's two intakes are submitted back to back
    celery_processes.worker(beat=True)

    first, held = submit(client), submit(client)
    smtp.wait_for_messages(2, timeout=60, detail=celery_processes.logs)
    wait_for_status(first_notification(held), Notification.Status.DELIVERED,
                    detail=celery_processes.logs)

    reopening, held_again = submit(client), submit(client)
    assert not first_notification(reopening).grouped
    assert first_notification(held_again).grouped
    mails = smtp.wait_for_messages(4, timeout=60, detail=celery_processes.logs)
    wait_for_status(first_notification(held_again), Notification.Status.DELIVERED,
                    detail=celery_processes.logs)
    wait_for_sweeps(2, detail=celery_processes.logs)

    assert [m.message["Subject"] for m in smtp.messages] == [
        f"[URGENT] Intake {first} needs a clinician",
        "[URGENT] 1 more urgent case in the last minute",
        f"[URGENT] Intake {reopening} needs a clinician",
        "[URGENT] 1 more urgent case in the last minute",
    ]
    assert f": {held}.\n" in text_of(mails[1])
    assert f": {held_again}.\n" in text_of(mails[3])


def test_a_digest_whose_worker_died_mid_send_is_handed_on_by_the_sweep_and_sent_once(
        client, broker, rota, smtp, short_window, celery_processes):
    # The two held intakes follow the first page, which takes well under a second to arrive.
    short_window(4)
    first_worker = celery_processes.worker("first")
    submit(client)
    smtp.wait_for_messages(1, detail=celery_processes.logs)
    held = [first_notification(submit(client)) for _ in range(2)]

    smtp.hold()  # the mail server takes the digest's DATA and then waits before answering
    celery_processes.beat()
    wait_until(lambda: smtp.handler.held == 1, what="the worker to be inside the digest's DATA",
               timeout=60, detail=celery_processes.logs)
    # Claimed by one token, each with an attempt on record and no outcome yet.
    for notification in held:
        notification.refresh_from_db()
    [claim] = {n.claim_token for n in held}
    assert {(n.status, a.outcome, a.finished_at, a.digest_token)
            for n in held for a in n.attempts.all()} == {
        (Notification.Status.SENDING, "", None, claim)}

    first_worker.kill()  # SIGKILL mid-send
    wait_until(lambda: smtp.handler.abandoned == 1, what="the SMTP server to see the client go")
    smtp.release()
    assert len(smtp.messages) == 1

    # Once the dead worker's lease runs out, the sweep queues the digest for the new worker.
    celery_processes.worker("second")
    for notification in held:
        wait_for_status(notification, Notification.Status.DELIVERED,
                        detail=celery_processes.logs)
    wait_for_sweeps(2, detail=celery_processes.logs)

    [_, digest] = smtp.messages
    assert digest.message["Subject"] == "[URGENT] 2 more urgent cases in the last minute"
    assert smtp.handler.entered == 3  # the page, the interrupted digest, the digest
    for notification in held:
        notification.refresh_from_db()
        attempts = list(notification.attempts.all())
        assert [(a.outcome, a.finished_at is None, a.digest_token) for a in attempts] == [
            ("", True, claim), ("sent", False, notification.claim_token)]
        assert notification.claim_token != claim
