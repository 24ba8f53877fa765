"""The HTTP contract tests run against the session's stack (`tests/conftest.py`), with a few resources
owned by one customer and a token for each kind of caller.

The tests read each service's OpenAPI from the running API and hold the service to it, so a route added
tomorrow is fuzzed and checked for access like the others without anyone listing it here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from chassis.auth.tokens import mint_local_token
from devstack.client import Customer, Folio, eventually
from devstack.config import SERVICES
from devstack.stack import Stack
from tests.conftest import START_TIMEOUT


@dataclass(frozen=True)
class Identity:
    """A kind of caller: its bearer token (None for anonymous) and whom it claims to be."""

    name: str
    token: str | None
    subject: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


@dataclass(frozen=True)
class World:
    """What the stack holds before the tests start: resources of customer ``alice``."""

    alice: Customer
    bob: Customer
    book_id: str
    author_id: str
    order_id: str
    # Deletions get a book of their own, so that the shared one stays for every other test.
    doomed_book_id: str
    identities: dict[str, Identity]

    def path_values(self, method: str = "GET") -> dict[str, str]:
        """A value for each path parameter name, pointing at alice's resources where there are some."""
        book_id = self.doomed_book_id if method.upper() == "DELETE" else self.book_id
        return {"book_id": book_id, "order_id": self.order_id, "id": self.author_id}


def _identities(secret: str, folio: Folio, alice: Customer, bob: Customer) -> dict[str, Identity]:
    def mint(subject: str, email: str | None, roles: list[str], **claims: Any) -> str:
        return mint_local_token(secret, subject, email, roles, ttl=3 * 3600, **claims)

    admin = folio.admin
    return {
        "anonymous": Identity("anonymous", None),
        "alice": Identity("alice", mint(alice.subject, alice.email, ["customer"]), alice.subject),
        "bob": Identity("bob", mint(bob.subject, bob.email, ["customer"]), bob.subject),
        "admin": Identity("admin", mint(admin.subject, admin.email, ["admin"]), admin.subject),
        # Signed with the right key, but not by our issuer or not for us: neither may be anyone here.
        "foreign-issuer admin": Identity(
            "foreign-issuer admin", mint("evil", None, ["admin"], issuer="https://evil.example")
        ),
        "wrong-audience admin": Identity(
            "wrong-audience admin", mint("evil", None, ["admin"], audience="someone-else")
        ),
        "no-issuer admin": Identity("no-issuer admin", mint("evil", None, ["admin"], issuer=None)),
        "realm-role admin": Identity(
            "realm-role admin",
            mint("evil", None, [], extra_claims={"realm_access": {"roles": ["admin"]}}),
        ),
        "string-role admin": Identity(
            "string-role admin", mint("evil", None, [], extra_claims={"roles": "customer admin"})
        ),
    }


@pytest.fixture(scope="session")
def world(stack: Stack) -> Iterator[World]:
    """Alice's order (with its confirmation mail) and feedback on a book every service knows."""
    # After the drills, every process is back and ready before the contract is checked.
    stack.wait_ready(timeout=START_TIMEOUT)
    with Folio(stack.config) as folio:
        alice, bob = Customer.named("Alice"), Customer.named("Bob")
        author_id = folio.create_author("Ursula K. Le Guin")
        book = folio.create_book("The Dispossessed", price="9.50", stock=1000, author_ids=[author_id])
        book_id = str(book["id"])
        doomed = folio.create_book("The Lathe of Heaven", price="8.00", stock=1, author_ids=[author_id])
        order_id = folio.place_order(alice, {book_id: 1})
        folio.give_feedback(alice, book_id, stars=5, comment="An ambiguous utopia.")
        eventually(
            lambda: folio.notifications(order_id) or None, timeout=60, what="alice's first notification"
        )
        yield World(
            alice=alice,
            bob=bob,
            book_id=book_id,
            author_id=author_id,
            order_id=order_id,
            doomed_book_id=str(doomed["id"]),
            identities=_identities(stack.config.secret(), folio, alice, bob),
        )


@pytest.fixture(scope="session")
def openapi(stack: Stack) -> dict[str, dict[str, Any]]:
    """Each service's OpenAPI document, as its running API serves it."""
    documents = {}
    for service in SERVICES:
        response = httpx.get(f"{stack.config.api_url(service)}/api/v1/openapi.json", timeout=10)
        response.raise_for_status()
        documents[service] = response.json()
    return documents
