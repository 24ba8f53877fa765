"""When the sender looks for rows stopped workers left `sending`: after a whole lease of answers, then once
an idle interval rather than on every pass."""

from __future__ import annotations

from notification.entrypoints.sender import RecoverySchedule

LEASE, INTERVAL = 120.0, 10.0


def answering_since(start: float) -> RecoverySchedule:
    schedule = RecoverySchedule(LEASE, INTERVAL)
    schedule.succeeded(start, recovered=False, met_outage=False)
    return schedule


def test_no_recovery_before_the_database_has_answered_for_a_whole_lease() -> None:
    assert not RecoverySchedule(LEASE, INTERVAL).due(1000.0)
    schedule = answering_since(1000.0)
    assert not schedule.due(1000.0 + LEASE - 1)
    assert schedule.due(1000.0 + LEASE)


def test_after_a_recovery_the_next_waits_an_interval_however_many_passes_run() -> None:
    schedule = answering_since(0.0)
    schedule.succeeded(LEASE, recovered=True, met_outage=False)
    for passed in (0.1, 1.0, INTERVAL - 0.1):
        assert not schedule.due(LEASE + passed)
        schedule.succeeded(LEASE + passed, recovered=False, met_outage=False)
    assert schedule.due(LEASE + INTERVAL)


def test_a_failed_pass_or_one_that_met_an_outage_counts_a_whole_lease_again() -> None:
    failed = answering_since(0.0)
    failed.failed()
    assert not failed.due(LEASE * 3)
    failed.succeeded(LEASE * 3, recovered=False, met_outage=False)
    assert not failed.due(LEASE * 4 - 1)
    assert failed.due(LEASE * 4)

    outage = answering_since(0.0)
    outage.succeeded(LEASE * 2, recovered=False, met_outage=True)
    assert not outage.due(LEASE * 3 - 1)
    assert outage.due(LEASE * 3)
