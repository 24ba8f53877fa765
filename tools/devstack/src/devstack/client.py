"""A small synchronous client of a running stack's HTTP APIs and of its mail sink, for the demo and e2e tests.

It talks HTTP only, as any outside client would; tokens are minted with the stack's local secret.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from chassis.auth.tokens import mint_local_token
from devstack.config import SERVICES, StackConfig

T = TypeVar("T")
Json = dict[str, Any]

# Order statuses after which nothing more happens without someone asking (confirmed waits for an admin).
SETTLED = frozenset({"confirmed", "completed", "rejected", "cancelled"})
TERMINAL = frozenset({"completed", "rejected", "cancelled"})


@dataclass(frozen=True)
class Customer:
    subject: str
    email: str

    @classmethod
    def named(cls, name: str) -> Customer:
        tag = uuid.uuid4().hex[:6]
        return cls(subject=f"{name.lower()}-{tag}", email=f"{name.lower()}+{tag}@folio.example")


class ApiError(RuntimeError):
    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.body = response.text
        request = response.request
        super().__init__(f"{request.method} {request.url} answered {self.status}: {self.body[:500]}")


def eventually(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.25,
) -> T:
    """Call ``probe`` until it returns something other than None/False; ``TimeoutError`` after ``timeout``.

    A probe may also raise AssertionError (or an HTTP error) while the system is still getting there; the
    last such error is reported if time runs out.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = probe()
            if result is not None and result is not False:
                return result
            last = result
        except (AssertionError, httpx.HTTPError, ApiError) as error:
            last = error
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f}s (last: {last!r})")
        time.sleep(interval)


def isbn13() -> str:
    """A random valid ISBN-13 (978 prefix), so that every run adds books of its own."""
    digits = [9, 7, 8, *(random.randrange(10) for _ in range(9))]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return "".join(map(str, [*digits, check]))


class Folio:
    """The four services' APIs and the mail sink of one stack.

    Calls go round robin over a service's API replicas, as a load balancer in front of them would.
    """

    def __init__(self, config: StackConfig, *, timeout: float = 15.0) -> None:
        self.config = config
        self._secret = config.secret()
        self.http = httpx.Client(timeout=timeout)
        self.admin = Customer("folio-admin", "admin@folio.example")
        self._tokens: dict[tuple[str, bool], str] = {}
        self._replica = {service: itertools.cycle(range(config.replicas)) for service in SERVICES}

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Folio:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- plumbing ---------------------------------------------------------------------------------------

    def token(self, who: Customer, *, admin: bool = False) -> str:
        key = (who.subject, admin)
        if key not in self._tokens:
            roles = ["admin"] if admin else []
            self._tokens[key] = mint_local_token(self._secret, who.subject, who.email, roles, ttl=24 * 3600)
        return self._tokens[key]

    def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        who: Customer | None = None,
        admin: bool = False,
        expect: tuple[int, ...] = (200, 201, 202, 204),
        **kwargs: Any,
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if admin:
            headers["Authorization"] = f"Bearer {self.token(self.admin, admin=True)}"
        elif who is not None:
            headers["Authorization"] = f"Bearer {self.token(who)}"
        url = f"{self.config.api_url(service, next(self._replica[service]))}/api/v1{path}"
        response = self.http.request(method, url, headers=headers, **kwargs)
        if response.status_code not in expect:
            raise ApiError(response)
        return response

    def pages(
        self, service: str, path: str, *, admin: bool = True, params: dict[str, Any] | None = None
    ) -> Iterator[Json]:
        page = 1
        while True:
            body = self.call(
                "GET", service, path, admin=admin, params={**(params or {}), "page": page, "size": 100}
            ).json()
            yield from body["items"]
            if page * 100 >= body["total"] or not body["items"]:
                return
            page += 1

    # --- catalog ----------------------------------------------------------------------------------------

    def create_author(self, name: str) -> str:
        return str(self.call("POST", "catalog", "/authors", admin=True, json={"name": name}).json()["id"])

    def create_category(self, name: str) -> str:
        return str(self.call("POST", "catalog", "/categories", admin=True, json={"name": name}).json()["id"])

    def create_book(
        self,
        title: str,
        *,
        price: str,
        stock: int,
        author_ids: list[str] | None = None,
        category_id: str | None = None,
        currency: str = "EUR",
    ) -> Json:
        body = {
            "isbn": isbn13(),
            "title": title,
            "price": {"amount": price, "currency": currency},
            "stock": stock,
            "author_ids": author_ids or [],
            "category_id": category_id,
        }
        created: Json = self.call("POST", "catalog", "/books", admin=True, json=body).json()
        return created

    def book(self, book_id: str) -> Json:
        found: Json = self.call("GET", "catalog", f"/books/{book_id}").json()
        return found

    def restock(self, book_id: str, quantity: int) -> int:
        answer = self.call(
            "POST", "catalog", f"/books/{book_id}/restock", admin=True, json={"quantity": quantity}
        )
        return int(answer.json()["stock"])

    # --- ordering ---------------------------------------------------------------------------------------

    def place_order(self, who: Customer, lines: dict[str, int], *, key: str | None = None) -> str:
        """Place an order; with ``key`` (an Idempotency-Key) the same call may be repeated safely."""
        body = {"lines": [{"book_id": book, "quantity": quantity} for book, quantity in lines.items()]}
        headers = {"Idempotency-Key": key} if key else {}
        answer = self.call("POST", "ordering", "/orders", who=who, json=body, headers=headers)
        return str(answer.json()["id"])

    def order(self, order_id: str) -> Json:
        found: Json = self.call("GET", "ordering", f"/orders/{order_id}", admin=True).json()
        return found

    def cancel_order(self, who: Customer, order_id: str) -> Json:
        answer: Json = self.call("POST", "ordering", f"/orders/{order_id}/cancel", who=who).json()
        return answer

    def complete_order(self, order_id: str) -> Json:
        answer: Json = self.call("POST", "ordering", f"/orders/{order_id}/complete", admin=True).json()
        return answer

    def history(self, order_id: str) -> list[Json]:
        entries: list[Json] = self.call("GET", "ordering", f"/orders/{order_id}/history", admin=True).json()[
            "entries"
        ]
        return entries

    def wait_status(self, order_id: str, statuses: frozenset[str] | set[str], timeout: float = 30) -> Json:
        def probe() -> Json | None:
            order = self.order(order_id)
            return order if order["status"] in statuses else None

        return eventually(probe, timeout=timeout, what=f"order {order_id} {'/'.join(sorted(statuses))}")

    # --- rating -----------------------------------------------------------------------------------------

    def give_feedback(
        self, who: Customer, book_id: str, stars: int, comment: str, timeout: float = 30
    ) -> Json:
        """Rating learns of books from the catalog's events: an ``unknown-book`` answer is retried."""

        def probe() -> Json | None:
            response = self.call(
                "PUT",
                "rating",
                f"/books/{book_id}/feedback/mine",
                who=who,
                json={"stars": stars, "comment": comment},
                expect=(200, 201, 404),
            )
            if response.status_code == 404:
                return None
            given: Json = response.json()
            return given

        return eventually(probe, timeout=timeout, what=f"rating accepts feedback on {book_id}")

    def feedback(self, book_id: str) -> list[Json]:
        return list(self.pages("rating", f"/books/{book_id}/feedback", admin=False))

    def rating_summary(self, book_id: str) -> Json:
        found: Json = self.call("GET", "rating", f"/books/{book_id}/summary").json()
        return found

    # --- notification and mail --------------------------------------------------------------------------

    def notifications(self, order_id: str | None = None) -> list[Json]:
        params = {"order_id": order_id} if order_id else {}
        return list(self.pages("notification", "/notifications", params=params))

    def mails(self) -> list[Json]:
        """What the SMTP sink received (one summary per e-mail)."""
        # Generous: the listing of thousands of e-mails is large.
        response = self.http.get(f"{self.config.mail_url}/messages", timeout=120)
        response.raise_for_status()
        listing: list[Json] = response.json()
        return listing

    def mail_text(self, number: int) -> str:
        response = self.http.get(f"{self.config.mail_url}/messages/{number}")
        response.raise_for_status()
        return response.text
