"""``GET /api/v1/notifications``: paged, newest first; a customer sees only their own, an admin any."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest

from chassis.app import create_api
from chassis.auth.tokens import mint_local_token
from chassis.db import session_factory
from contracts.envelope import new_id
from contracts.ordering import OrderCompleted, OrderConfirmed
from notification.adapters.unit_of_work import NotificationUnitOfWork
from notification.application.commands import RecordNotification
from notification.application.recording_handlers import record_notification
from notification.domain.content import EmailContent
from notification.domain.delivery import DeliveryPolicy
from notification.entrypoints.definition import definition
from notification.entrypoints.settings import NotificationSettings

pytestmark = pytest.mark.integration

SECRET = "integration-tests-secret-0123456789abcdef"
ALICE_ORDER = UUID("01890a5d-ac96-774b-bcce-b302099a8001")
ALICE_OTHER_ORDER = UUID("01890a5d-ac96-774b-bcce-b302099a8002")
BOB_ORDER = UUID("01890a5d-ac96-774b-bcce-b302099a8003")
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def token(subject: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_local_token(SECRET, subject, roles=roles or ('customer',))}"}


@pytest.fixture
async def http(migrated_database: str, amqp_url: str, engine) -> AsyncIterator[httpx.AsyncClient]:
    seeds = [
        ("alice", ALICE_ORDER, OrderConfirmed.TYPE, "order-confirmed"),
        ("alice", ALICE_ORDER, OrderCompleted.TYPE, "order-completed"),
        ("alice", ALICE_OTHER_ORDER, OrderConfirmed.TYPE, "order-confirmed"),
        ("bob", BOB_ORDER, OrderConfirmed.TYPE, "order-confirmed"),
    ]
    async with NotificationUnitOfWork(session_factory(engine), policy=DeliveryPolicy()) as uow:
        for minutes, (customer, order, source_type, template) in enumerate(seeds):
            command = RecordNotification(
                notification_id=new_id(),
                source_message_id=new_id(),
                source_type=source_type,
                order_id=order,
                customer_id=customer,
                recipient=f"{customer}@example.com",
                template=template,
                content=EmailContent(subject=f"{template} for {customer}", text="t", html="h"),
                at=START + timedelta(minutes=minutes),
            )
            await record_notification(command, uow)
        await uow.commit()
    settings = NotificationSettings(
        database_url=migrated_database, amqp_url=amqp_url, auth_local_secret=SECRET, _env_file=None
    )  # type: ignore[call-arg]
    app = create_api(definition(settings), settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client


async def test_a_customer_lists_their_own_notifications_newest_first_page_by_page(
    http: httpx.AsyncClient,
) -> None:
    first = await http.get("/api/v1/notifications", params={"size": 2}, headers=token("alice"))
    second = await http.get("/api/v1/notifications", params={"size": 2, "page": 2}, headers=token("alice"))

    assert first.status_code == 200
    body = first.json()
    assert (body["total"], body["page"], body["size"], body["pages"]) == (3, 1, 2, 2)
    assert [item["order_id"] for item in body["items"]] == [str(ALICE_OTHER_ORDER), str(ALICE_ORDER)]
    assert body["items"][1]["template"] == "order-completed"
    assert [item["customer_id"] for item in second.json()["items"]] == ["alice"]
    item = body["items"][0]
    assert item["status"] == "pending"
    assert item["recipient"] == "alice@example.com"
    assert set(item) >= {"id", "subject", "attempts", "source_type", "source_message_id", "created_at"}


async def test_a_customer_lists_the_notifications_of_one_of_their_orders(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/api/v1/notifications", params={"order_id": str(ALICE_ORDER)}, headers=token("alice")
    )

    assert response.json()["total"] == 2
    assert {item["order_id"] for item in response.json()["items"]} == {str(ALICE_ORDER)}


async def test_a_customer_asking_for_another_customers_order_sees_nothing_of_it(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get(
        "/api/v1/notifications", params={"order_id": str(BOB_ORDER)}, headers=token("alice")
    )

    assert response.status_code == 200
    assert response.json()["total"] == 0


async def test_a_customer_asking_for_another_customers_notifications_is_forbidden(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/api/v1/notifications", params={"customer_id": "bob"}, headers=token("alice"))

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 403


async def test_without_a_token_the_list_answers_401_problem_details(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/notifications")

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_an_admin_lists_anyones_notifications_or_all_of_them(http: httpx.AsyncClient) -> None:
    admin = token("root", "admin")
    bobs = await http.get("/api/v1/notifications", params={"customer_id": "bob"}, headers=admin)
    everyone = await http.get("/api/v1/notifications", headers=admin)
    by_order = await http.get("/api/v1/notifications", params={"order_id": str(ALICE_ORDER)}, headers=admin)

    assert bobs.json()["total"] == 1
    assert bobs.json()["items"][0]["customer_id"] == "bob"
    assert everyone.json()["total"] == 4
    assert by_order.json()["total"] == 2


async def test_bad_paging_or_a_malformed_order_id_answers_422_problem_details(
    http: httpx.AsyncClient,
) -> None:
    for params in ({"size": 0}, {"page": 0}, {"order_id": "nope"}):
        response = await http.get("/api/v1/notifications", params=params, headers=token("alice"))
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
