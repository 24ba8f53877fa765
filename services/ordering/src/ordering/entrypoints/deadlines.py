"""The worker's deadline scanner: durable saga timeouts, found in the database rather than kept in memory."""

from __future__ import annotations

import logging

from chassis import AppResources, sleep_unless_stopped
from ordering.adapters.unit_of_work import OrderingUnitOfWork
from ordering.application.order_handlers import scan_due_sagas, seconds_to_next_deadline
from ordering.entrypoints.settings import OrderingSettings

log = logging.getLogger(__name__)


async def run_deadline_scanner(resources: AppResources[OrderingSettings, OrderingUnitOfWork]) -> None:
    """Handle due sagas until ``resources.stop`` is set; a full batch is followed at once by the next.

    Between scans it sleeps until the nearest deadline, at most ``deadline_scan_interval_seconds``: an idle
    scanner reads one row per interval and commits nothing.
    """
    settings = resources.settings
    uows = resources.uow_factory
    batch = settings.deadline_scan_batch
    longest = settings.deadline_scan_interval_seconds
    while not resources.stop.is_set():
        try:
            pause = await seconds_to_next_deadline(uows, longest=longest)
            if pause == 0:
                handled = await scan_due_sagas(uows, batch=batch)
                # None taken: another scanner holds the due ones (or they just moved); do not spin on them.
                pause = longest if handled == 0 else 0
        except Exception:
            # A database blip must not stop the worker: the deadlines are still there on the next pass.
            log.warning("deadline scan failed; trying again", exc_info=True)
            pause = longest
        if pause > 0:
            await sleep_unless_stopped(resources.stop, pause)
