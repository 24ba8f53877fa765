"""A steady stream of orders for the drills: placed through every API replica, a share of them cancelled or
completed as they go, each call repeated through outages the way a patient client would (the same
Idempotency-Key for a repeated order), so that a fault never decides which orders exist.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx

from devstack.client import TERMINAL, ApiError, Customer, Folio
from devstack.invariants import Ledger

T = TypeVar("T")

# How long a call is repeated while the service answers 5xx or not at all, and how often.
PATIENCE_SECONDS = 120.0
RETRY_PAUSE_SECONDS = 0.3
# A cancel or completion is tried this long after placing, and again (409) until it gives up.
FINISH_AFTER_SECONDS = 1.5
FINISH_WITHIN_SECONDS = 90.0


@dataclass
class Finish:
    order_id: str
    action: str  # "cancel" or "complete"
    due: float
    placed: float


class SteadyLoad:
    """Books of the load's own and ``per_second`` orders for them while :meth:`running` lasts."""

    def __init__(self, folio: Folio, *, books: int, stock: int, seed: int, customers: int = 8) -> None:
        self.folio = folio
        self.ledger = Ledger()
        self.rng = random.Random(seed)
        self.books = [
            self.ledger.add_book(folio.create_book(f"Drill book {seed}-{i}", price="4.00", stock=stock))
            for i in range(books)
        ]
        self.customers = [Customer.named(f"d{seed}c{i}") for i in range(customers)]
        self.owner: dict[str, Customer] = {}
        self.errors: list[BaseException] = []
        # Calls answered 5xx or not at all, then repeated (the outage as the clients saw it).
        self.repeated = 0
        self._finishes: deque[Finish] = deque()
        self._stop = threading.Event()

    @property
    def placed(self) -> int:
        return len(self.ledger.orders)

    @contextmanager
    def running(self, per_second: float) -> Iterator[None]:
        """Place orders (and finish some) in the background; on exit stop placing and finish the rest."""
        self._stop.clear()
        thread = threading.Thread(target=self._run, args=(per_second,), name="steady load", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(PATIENCE_SECONDS + FINISH_WITHIN_SECONDS)
        assert not thread.is_alive(), "the load did not finish"
        assert not self.errors, f"the load failed: {self.errors[:3]}"

    def _run(self, per_second: float) -> None:
        began = time.monotonic()
        tick = 0
        while not self._stop.is_set() or self._finishes:
            try:
                if not self._stop.is_set():
                    self._place(tick)
                self._finish_due()
            except Exception as error:
                self.errors.append(error)
                return
            tick += 1
            time.sleep(max(0.0, began + tick / per_second - time.monotonic()))

    def _place(self, tick: int) -> None:
        customer = self.rng.choice(self.customers)
        chosen = self.rng.sample(self.books, min(len(self.books), self.rng.choice((1, 1, 2))))
        lines = {book: self.rng.randint(1, 2) for book in chosen}
        key = str(uuid.uuid4())
        order_id = self._patiently(lambda: self.folio.place_order(customer, lines, key=key))
        now = time.monotonic()
        self.ledger.orders.append(order_id)
        self.owner[order_id] = customer
        # One order in four is cancelled, one in four completed; the others stay confirmed.
        if tick % 4 in (1, 3):
            action = "cancel" if tick % 4 == 1 else "complete"
            self._finishes.append(Finish(order_id, action, now + FINISH_AFTER_SECONDS, now))

    def _finish_due(self) -> None:
        now = time.monotonic()
        for _ in range(len(self._finishes)):
            finish = self._finishes.popleft()
            if finish.due > now:
                self._finishes.append(finish)
                continue
            if not self._try_finish(finish):
                if now - finish.placed > FINISH_WITHIN_SECONDS:
                    raise TimeoutError(f"could not {finish.action} order {finish.order_id}")
                finish.due = now + 1.0
                self._finishes.append(finish)

    def _try_finish(self, finish: Finish) -> bool:
        """True once the order is finished (or can no longer be: rejected, cancelled)."""
        try:
            if finish.action == "cancel":
                self._patiently(lambda: self.folio.cancel_order(self.owner[finish.order_id], finish.order_id))
            else:
                self._patiently(lambda: self.folio.complete_order(finish.order_id))
        except ApiError as error:
            if error.status != 409:
                raise
            # Not yet confirmed (try again later) or already past it (nothing to do).
            status = self._patiently(lambda: self.folio.order(finish.order_id))["status"]
            return status in TERMINAL or status in ("cancelling", "releasing")
        return True

    def _patiently(self, call: Callable[[], T]) -> T:
        deadline = time.monotonic() + PATIENCE_SECONDS
        while True:
            try:
                return call()
            except ApiError as error:
                if error.status < 500 or time.monotonic() > deadline:
                    raise
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            self.repeated += 1
            time.sleep(RETRY_PAUSE_SECONDS)
