"""The whole system as real processes, started once per test session the way `make up` starts it (the same
process list), on databases, a vhost and ports of its own, and removed afterwards even when a test fails.

Timings are shrunk through the environment so that faults play out in seconds: the saga gives the catalog
4 s for its first ReserveStock, then 8 s per resend, and gives up 12 s after the first ReserveStock was
published (longer than a worker takes to restart); retries wait under a second, and a notification left
mid hand-off by a killed worker is resolved after 5 s.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.admin import Admin
from devstack.client import Folio
from devstack.config import StackConfig, with_free_ports
from devstack.stack import Stack

SAGA_FIRST_DEADLINE_SECONDS = 4.0
SAGA_MAX_DEADLINE_SECONDS = 8.0
# When the saga gives up on the catalog, counted from the first ReserveStock's publication.
SAGA_GIVE_UP_AFTER_SECONDS = 12.0
# The relay publishes within a second: the saga gives up about this long after an order was placed.
LAST_DEADLINE_SECONDS = SAGA_GIVE_UP_AFTER_SECONDS

E2E_ENV = {
    "ORDERING_SAGA_FIRST_DEADLINE_SECONDS": str(SAGA_FIRST_DEADLINE_SECONDS),
    "ORDERING_SAGA_MAX_DEADLINE_SECONDS": str(SAGA_MAX_DEADLINE_SECONDS),
    "ORDERING_SAGA_GIVE_UP_AFTER_SECONDS": str(SAGA_GIVE_UP_AFTER_SECONDS),
    "ORDERING_DEADLINE_SCAN_INTERVAL_SECONDS": "0.5",
    # Shared by every service (FOLIO_ is the settings' common prefix).
    "FOLIO_RETRY_DELAYS": "0.2,0.5,1",
    "FOLIO_OUTBOX_POLL_INTERVAL": "0.5",
    "FOLIO_LOG_LEVEL": "INFO",
    "NOTIFICATION_SMTP_TIMEOUT_SECONDS": "1",
    "NOTIFICATION_SMTP_DEADLINE_SECONDS": "2",
    "NOTIFICATION_SENDING_LEASE_SECONDS": "5",
    "NOTIFICATION_BACKOFF_BASE_SECONDS": "0.2",
    "NOTIFICATION_BACKOFF_MAX_SECONDS": "1",
    "NOTIFICATION_SENDER_POLL_INTERVAL_SECONDS": "0.2",
    # A killed worker leaves its claimed batch `uncertain` (at most once): the fault tests bound them by it.
    "NOTIFICATION_SENDER_BATCH_SIZE": "10",
}
START_TIMEOUT = 180.0


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    tag = uuid.uuid4().hex[:8]
    # Outside pytest's rotating temporary directories, so that the logs of a failed run stay to be read.
    run_dir = Path(tempfile.gettempdir()) / "folio-e2e" / tag
    config = with_free_ports(
        StackConfig(prefix=f"e2e_{tag}", vhost=f"folio_e2e_{tag}", run_dir=run_dir, extra_env=E2E_ENV)
    )
    running = Stack(config)
    try:
        running.prepare()
        running.start()
        running.wait_ready(timeout=START_TIMEOUT)
        yield running
    finally:
        # Nothing is kept: no need to wait long for graceful stops.
        running.teardown(stop_timeout=5)
        if request.session.testsfailed:
            print(f"\ne2e stack logs kept in {running.log_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def folio(stack: Stack) -> Iterator[Folio]:
    with Folio(stack.config) as client:
        yield client


@pytest.fixture(scope="session")
def admin(stack: Stack) -> Admin:
    return Admin(stack.config)


@pytest.fixture
def healthy(stack: Stack) -> Iterator[Stack]:
    """The stack, all processes ready before the test and again after it (a fault test may stop some)."""
    stack.wait_ready(timeout=START_TIMEOUT)
    yield stack
    stopped = [name for name in stack.specs if not stack.running(name)]
    stack.start(stopped)
    stack.wait_ready(timeout=START_TIMEOUT)


@pytest.fixture(scope="session")
def last_deadline() -> float:
    """Seconds after placing an order at which the saga gives up on an unanswering catalog."""
    return LAST_DEADLINE_SECONDS
