"""What the long-fault drills share: their pace, their patience, and how long an outage must last."""

from __future__ import annotations

import time

from devstack.client import eventually
from devstack.load import SteadyLoad
from devstack.stack import Stack

RECOVERY_TIMEOUT = 120.0
READY_TIMEOUT = 300.0
# Orders per second, over both api replicas.
RATE = 6.0
# How far each outage outlasts the longest budget it has to beat.
MARGIN_SECONDS = 3.0


def budgets(env: dict[str, str]) -> dict[str, float]:
    """The stack's budgets in seconds, from its settings: what an outage must outlast."""
    retry = sum(float(d) for d in env["FOLIO_RETRY_DELAYS"].split(","))
    deadline = float(env["ORDERING_SAGA_FIRST_DEADLINE_SECONDS"])
    base = float(env["NOTIFICATION_BACKOFF_BASE_SECONDS"])
    top = float(env["NOTIFICATION_BACKOFF_MAX_SECONDS"])
    # The sender's old budget: five tries, doubling from the base, then failed for good.
    smtp = sum(min(base * 2**k, top) for k in range(4))
    return {"retry": retry, "saga deadline": deadline, "smtp": smtp}


def outage(env: dict[str, str], *beats: str) -> float:
    """Seconds of an outage longer than each budget named (all of them when none is)."""
    known = budgets(env)
    return max(known[name] for name in beats or known) + MARGIN_SECONDS


def placed_at_least(load: SteadyLoad, count: int) -> None:
    eventually(lambda: load.placed >= count, timeout=60, what=f"{count} orders placed")


def hold(seconds: float) -> None:
    """Keep a fault in place for ``seconds``: the length of the outage, not a wait for a state."""
    time.sleep(seconds)


def all_running(stack: Stack) -> None:
    exited = [name for name in stack.specs if not stack.running(name)]
    assert not exited, f"exited during the fault: {exited} (see {stack.log_dir})"
