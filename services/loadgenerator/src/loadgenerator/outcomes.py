"""What became of a step's orders, read back through the ordering API's order summaries."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import aiohttp

from loadgenerator.orders import ORDERS_PATH

PAGE_SIZE = 100  # the API's maximum
SETTLED = frozenset({"confirmed", "rejected", "cancelled", "completed"})


@dataclass(frozen=True, slots=True)
class Outcome:
    order_id: str
    status: str
    placed_at: datetime
    # The order's last change: for a confirmed order that nobody touched since, its confirmation.
    changed_at: datetime

    @property
    def settled(self) -> bool:
        return self.status in SETTLED


async def customer_orders(
    client: aiohttp.ClientSession, ordering_url: str, customer: str, token: str
) -> list[Outcome]:
    headers = {"Authorization": f"Bearer {token}"}
    outcomes: list[Outcome] = []
    page = 1
    while True:
        params: dict[str, str | int] = {"customer_id": customer, "page": page, "size": PAGE_SIZE}
        async with client.get(f"{ordering_url}{ORDERS_PATH}", params=params, headers=headers) as response:
            response.raise_for_status()
            items = (await response.json(content_type=None))["items"]
        outcomes.extend(
            Outcome(
                order_id=str(item["id"]),
                status=item["status"],
                placed_at=datetime.fromisoformat(item["placed_at"]),
                changed_at=datetime.fromisoformat(item["last_change_at"]),
            )
            for item in items
        )
        if len(items) < PAGE_SIZE:
            return outcomes
        page += 1


class OutcomeReader(Protocol):
    """Where a step's outcomes are read from: the ordering API (any deployment) or, where the runner can
    reach it, ordering's read model in its database (one query per read, whatever the step's size)."""

    async def progress(self, customer: str) -> tuple[int, int]:
        """(orders, settled orders) of ``customer``."""
        ...

    async def outcomes(self, customer: str) -> list[Outcome]: ...


class ApiOutcomes:
    """The order summaries through ``GET /api/v1/orders?customer_id=``, a page of 100 per call."""

    def __init__(self, client: aiohttp.ClientSession, ordering_url: str, token: str) -> None:
        self.client, self.ordering_url, self.token = client, ordering_url, token

    async def progress(self, customer: str) -> tuple[int, int]:
        outcomes = await self.outcomes(customer)
        return len(outcomes), sum(1 for o in outcomes if o.settled)

    async def outcomes(self, customer: str) -> list[Outcome]:
        return await customer_orders(self.client, self.ordering_url, customer, self.token)


async def wait_settled(
    reader: OutcomeReader,
    customer: str,
    *,
    expected: int,
    within: float,
    interval: float = 1.0,
) -> list[Outcome]:
    """Wait until all ``expected`` orders of ``customer`` are settled, or ``within`` seconds pass; then
    read them all once."""
    deadline = time.monotonic() + within
    while True:
        orders, settled = await reader.progress(customer)
        if (orders >= expected and settled == orders) or time.monotonic() > deadline:
            return await reader.outcomes(customer)
        await asyncio.sleep(interval)
