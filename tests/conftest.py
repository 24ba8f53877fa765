"""The whole system as real processes, started once per test session the way `deploy/base` runs it (two
replicas of every service's api and worker; the client spreads calls over both apis), on databases, a vhost
and ports of its own, and removed afterwards even when a test fails.

Timings are shrunk through the environment so that faults play out in seconds: the saga gives the catalog
4 s for its first ReserveStock, then 8 s per resend, and gives up 45 s after the first ReserveStock was
published (longer than a worker takes to restart, or a drill freezes the catalog); retries wait under a
second, and a notification left mid hand-off by a killed worker is resolved after 5 s. The notification
workers reach the mail sink through an `SmtpSwitch`, so that a drill can take the mail server away or make
it throttle while the sink keeps what it received.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from devstack.admin import Admin
from devstack.client import Folio
from devstack.config import StackConfig, with_free_ports
from devstack.faults import SmtpSwitch
from devstack.stack import Stack

REPLICAS = 2
SAGA_FIRST_DEADLINE_SECONDS = 4.0
SAGA_MAX_DEADLINE_SECONDS = 8.0
# When the saga gives up on the catalog, counted from the first ReserveStock's publication: well past
# every drill's outage (10 s at most), with room for a machine so loaded that recovery itself takes long.
SAGA_GIVE_UP_AFTER_SECONDS = 45.0
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
    # Sixteen service processes share the server with everyone else's tests.
    "FOLIO_DATABASE_POOL_SIZE": "3",
    "FOLIO_DATABASE_MAX_OVERFLOW": "3",
    "NOTIFICATION_SMTP_TIMEOUT_SECONDS": "1",
    "NOTIFICATION_SMTP_DEADLINE_SECONDS": "2",
    "NOTIFICATION_SENDING_LEASE_SECONDS": "5",
    "NOTIFICATION_BACKOFF_BASE_SECONDS": "0.2",
    "NOTIFICATION_BACKOFF_MAX_SECONDS": "1",
    # Longer than any drill's mail outage: a transient refusal is retried until then.
    "NOTIFICATION_GIVE_UP_AFTER_SECONDS": "120",
    "NOTIFICATION_SENDER_POLL_INTERVAL_SECONDS": "0.2",
    # A killed worker leaves its claimed batch `uncertain` (at most once): the fault tests bound them by it.
    "NOTIFICATION_SENDER_BATCH_SIZE": "10",
}
START_TIMEOUT = 360.0


@contextmanager
def running_stack(
    request: pytest.FixtureRequest,
    switch: SmtpSwitch,
    *,
    postgres_admin_url: str | None = None,
    hold_back: Iterable[tuple[str, str]] = (),
) -> Iterator[Stack]:
    """A stack of its own, every process started and ready but the (service, role) held back; removed
    on exit."""
    tag = uuid.uuid4().hex[:8]
    # Outside pytest's rotating temporary directories, so that the logs of a failed run stay to be read.
    run_dir = Path(tempfile.gettempdir()) / "folio-e2e" / tag
    config = with_free_ports(
        StackConfig(
            prefix=f"e2e_{tag}",
            vhost=f"folio_e2e_{tag}",
            run_dir=run_dir,
            replicas=REPLICAS,
            postgres_admin_url=postgres_admin_url,
        )
    )
    switch.upstream_port = config.smtp_port
    config = replace(config, extra_env={**E2E_ENV, "NOTIFICATION_SMTP_PORT": str(switch.port)})
    running = Stack(config)
    held = {name for service, role in hold_back for name in running.replicas(service, role)}
    try:
        running.prepare()
        first = [name for name in running.specs if name not in held]
        running.start(first)
        running.wait_ready(first, timeout=START_TIMEOUT)
        yield running
    finally:
        # Nothing is kept: no need to wait long for graceful stops.
        running.teardown(stop_timeout=5)
        if request.session.testsfailed:
            print(f"\ne2e stack logs kept in {running.log_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


@contextmanager
def started_switch() -> Iterator[SmtpSwitch]:
    switch = SmtpSwitch(upstream_port=0).start()
    try:
        yield switch
    finally:
        switch.stop()


@pytest.fixture(scope="session")
def smtp_switch() -> Iterator[SmtpSwitch]:
    """Between the session stack's notification workers and its mail sink."""
    with started_switch() as switch:
        yield switch


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, smtp_switch: SmtpSwitch) -> Iterator[Stack]:
    with running_stack(request, smtp_switch) as running:
        yield running


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``own_stack`` just before the first test on the session's stack: their stacks then run
    before that one starts (it stays up to the end), so that no two stacks share the machine's cores."""
    own = [item for item in items if item.get_closest_marker("own_stack") is not None]
    rest = [item for item in items if item.get_closest_marker("own_stack") is None]
    first = next(
        (i for i, item in enumerate(rest) if "stack" in getattr(item, "fixturenames", ())), len(rest)
    )
    items[:] = rest[:first] + own + rest[first:]
