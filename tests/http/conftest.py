"""A stack of its own for the HTTP contract tests: every service's API and worker on free ports, its own
databases and vhost, a few resources owned by one customer, and a token for each kind of caller.

The tests read each service's OpenAPI from the running API and hold the service to it, so a route added
tomorrow is fuzzed and checked for access like the others without anyone listing it here.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chassis.auth.tokens import mint_local_token
from devstack.client import Customer, Folio, eventually
from devstack.config import SERVICES, StackConfig, with_free_ports
from devstack.stack import Stack

# Generous: nine processes import and start at once, and a CI machine may be busy.
START_TIMEOUT = 300.0
HTTP_ENV = {"FOLIO_OUTBOX_POLL_INTERVAL": "0.5", "FOLIO_LOG_LEVEL": "WARNING"}


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


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    tag = uuid.uuid4().hex[:8]
    run_dir = Path(tempfile.gettempdir()) / "folio-http" / tag
    config = with_free_ports(
        StackConfig(prefix=f"http_{tag}", vhost=f"folio_http_{tag}", run_dir=run_dir, extra_env=HTTP_ENV)
    )
    running = Stack(config)
    failed = False
    try:
        running.prepare()
        running.start()
        running.wait_ready(timeout=START_TIMEOUT)
        yield running
    except BaseException:
        failed = True
        raise
    finally:
        running.teardown(stop_timeout=5)
        if failed or request.session.testsfailed:
            print(f"\nhttp stack logs kept in {running.log_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


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
