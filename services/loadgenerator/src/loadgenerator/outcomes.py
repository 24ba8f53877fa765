"""What became of a step's orders, read back through the ordering API's order summaries."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

import httpx

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
    client: httpx.AsyncClient, ordering_url: str, customer: str, token: str
) -> list[Outcome]:
    headers = {"Authorization": f"Bearer {token}"}
    outcomes: list[Outcome] = []
    page = 1
    while True:
        params: dict[str, str | int] = {"customer_id": customer, "page": page, "size": PAGE_SIZE}
        response = await client.get(f"{ordering_url}{ORDERS_PATH}", params=params, headers=headers)
        response.raise_for_status()
        items = response.json()["items"]
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


async def wait_settled(
    client: httpx.AsyncClient,
    ordering_url: str,
    customer: str,
    token: str,
    *,
    expected: int,
    within: float,
    interval: float = 1.0,
) -> list[Outcome]:
    """Poll until all ``expected`` orders of ``customer`` are settled, or ``within`` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        outcomes = await customer_orders(client, ordering_url, customer, token)
        done = len(outcomes) >= expected and all(o.settled for o in outcomes)
        if done or time.monotonic() > deadline:
            return outcomes
        await asyncio.sleep(interval)
