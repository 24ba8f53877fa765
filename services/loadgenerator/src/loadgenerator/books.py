"""Books with ample stock, created through the catalog API, for the orders to draw from."""

from __future__ import annotations

import random

import aiohttp

from loadgenerator.target import Target

BOOKS_PATH = "/api/v1/books"


def isbn13(twelve_digits: str) -> str:
    """Append the ISBN-13 check digit (weights 1, 3, 1, 3, ...)."""
    if len(twelve_digits) != 12 or not twelve_digits.isdigit():
        raise ValueError("an ISBN-13 body is twelve digits")
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(twelve_digits))
    return twelve_digits + str((10 - total % 10) % 10)


def random_isbn(rng: random.Random) -> str:
    # 979-8 is a prefix in real use only for self-published US titles; collisions are retried anyway.
    return isbn13("9798" + "".join(rng.choice("0123456789") for _ in range(8)))


async def create_books(
    client: aiohttp.ClientSession, target: Target, *, count: int, stock: int, rng: random.Random
) -> list[str]:
    """``count`` new books holding ``stock`` copies each; returns their ids."""
    headers = {"Authorization": f"Bearer {target.admin_token()}"}
    ids: list[str] = []
    while len(ids) < count:
        body = {
            "isbn": random_isbn(rng),
            "title": f"Benchmark Volume {len(ids) + 1}",
            "price": {"amount": f"{rng.randint(5, 40)}.{rng.randint(0, 99):02d}", "currency": "EUR"},
            "stock": stock,
        }
        async with client.post(f"{target.catalog_url}{BOOKS_PATH}", json=body, headers=headers) as response:
            if response.status == 409:  # that ISBN is taken: draw another
                continue
            response.raise_for_status()
            ids.append(str((await response.json(content_type=None))["id"]))
    return ids
