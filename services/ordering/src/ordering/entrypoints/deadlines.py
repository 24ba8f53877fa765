"""The worker's deadline scanner: durable saga timeouts, found in the database rather than kept in memory."""

from __future__ import annotations

import logging

from chassis import AppResources, sleep_unless_stopped
from ordering.adapters.unit_of_work import OrderingUnitOfWork
from ordering.application.order_handlers import scan_due_sagas
from ordering.entrypoints.settings import OrderingSettings

log = logging.getLogger(__name__)


async def run_deadline_scanner(resources: AppResources[OrderingSettings, OrderingUnitOfWork]) -> None:
    """Handle due sagas until ``resources.stop`` is set; a full batch is followed at once by the next."""
    settings = resources.settings
    uows = resources.uow_factory
    batch = settings.deadline_scan_batch
    while not resources.stop.is_set():
        try:
            handled = await scan_due_sagas(uows, batch=batch)
        except Exception:
            # A database blip must not stop the worker: the deadlines are still there on the next pass.
            log.warning("deadline scan failed; trying again", exc_info=True)
            handled = 0
        if handled < batch:
            await sleep_unless_stopped(resources.stop, settings.deadline_scan_interval_seconds)
