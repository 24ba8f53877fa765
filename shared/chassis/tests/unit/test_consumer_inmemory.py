"""The worker's real subscribers and delivery middleware under FastStream's TestRabbitBroker (no servers)."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import model_validator

from chassis.messaging import context
from chassis.messaging.consumer import (
    ATTEMPT,
    ATTEMPTS,
    ERROR,
    ERROR_TYPE,
    LAST_ERROR,
    RetryPolicy,
    Subscription,
)
from contracts.base import Event
from contracts.envelope import Envelope
from testkit.inmemory import FakeUnitOfWork, in_memory_worker


class Ping(Event):
    TYPE: ClassVar[str] = "folio.test.ping.v1"
    OWNER: ClassVar[str] = "test"
    SUBJECT: ClassVar[str] = "ping_id"

    ping_id: str
    n: int


class Pong(Event):
    TYPE: ClassVar[str] = "folio.test.pong.v1"
    OWNER: ClassVar[str] = "test"
    SUBJECT: ClassVar[str] = "pong_id"

    pong_id: str


class Checked(Event):
    """Counts how often a delivery of it is validated (its check runs on every validation of the model)."""

    TYPE: ClassVar[str] = "folio.test.checked.v1"
    OWNER: ClassVar[str] = "test"
    SUBJECT: ClassVar[str] = "checked_id"
    validations: ClassVar[int] = 0

    checked_id: str

    @model_validator(mode="after")
    def _count(self) -> Self:
        type(self).validations += 1
        return self


class Recorder:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.handled: list[tuple[Ping | Pong, context.MessageContext, FakeUnitOfWork]] = []

    async def handle(self, message: Ping | Pong, uow: FakeUnitOfWork) -> None:
        self.handled.append((message, context.current(), uow))
        if self.fail:
            raise RuntimeError("handler broke")


def subscriptions(recorder: Recorder) -> list[Subscription[FakeUnitOfWork]]:
    return [Subscription("ping", (Ping, Pong), recorder.handle)]


async def test_the_handler_gets_the_contract_model_in_its_unit_of_work_which_is_committed() -> None:
    recorder = Recorder()
    async with in_memory_worker("svc", subscriptions(recorder)) as worker:
        envelope = await worker.publish("ping", Ping(ping_id="p1", n=1))
        await worker.publish("ping", Pong(pong_id="q1"))
    ((ping, handling, uow), (pong, _, _)) = recorder.handled
    assert ping == Ping(ping_id="p1", n=1)
    assert pong == Pong(pong_id="q1")
    assert handling.message_id == envelope.id
    assert [s.committed for s in worker.sessions] == [True, True]
    assert uow.fake is worker.sessions[0]
    assert worker.parked("ping") == []


async def test_a_duplicate_is_not_handled() -> None:
    recorder = Recorder()
    async with in_memory_worker("svc", subscriptions(recorder), claimed=False) as worker:
        await worker.publish("ping", Ping(ping_id="p1", n=1))
    assert recorder.handled == []
    assert worker.parked("ping") == []


async def test_an_unexpected_type_is_parked_at_once_with_its_reason() -> None:
    recorder = Recorder()
    async with in_memory_worker("svc", subscriptions(recorder)) as worker:
        envelope = Envelope(type="folio.test.other.v1", source="/test")
        await worker.publish("ping", b"{}", envelope=envelope)
    assert recorder.handled == []
    (parked,) = worker.parked("ping")
    assert parked.headers[ERROR_TYPE] == "UnexpectedType"
    assert "svc.ping does not take 'folio.test.other.v1'" in parked.headers[ERROR]
    assert parked.headers[ATTEMPTS] == 0
    assert parked.body == b"{}"


async def test_a_body_that_is_not_json_or_not_valid_is_parked_at_once() -> None:
    recorder = Recorder()
    async with in_memory_worker("svc", subscriptions(recorder)) as worker:
        ping = Envelope(type=Ping.TYPE, source="/test")
        await worker.publish("ping", b"not json", envelope=ping)
        await worker.publish("ping", b'{"ping_id": "p1"}', envelope=ping)
    assert recorder.handled == []
    assert [m.headers[ERROR_TYPE] for m in worker.parked("ping")] == ["InvalidMessage", "ValidationError"]


async def test_a_handler_error_goes_to_the_first_delay_queue() -> None:
    recorder = Recorder(fail=True)
    async with in_memory_worker("svc", subscriptions(recorder), retry=RetryPolicy((1.0, 2.0))) as worker:
        await worker.publish("ping", Ping(ping_id="p1", n=1))
        await worker.publish("ping", Ping(ping_id="p2", n=2), **{ATTEMPT: "2"})
    (retried,) = worker.retried("ping", 1)
    assert retried.headers[ATTEMPT] == 1
    assert "handler broke" in retried.headers[LAST_ERROR]
    (parked,) = worker.parked("ping")
    assert parked.headers[ERROR_TYPE] == "RuntimeError"
    assert parked.headers[ATTEMPTS] == 3


async def test_a_delivery_is_validated_once_by_the_codec_before_its_handler_gets_it() -> None:
    handled: list[Checked] = []

    async def handle(message: Checked, uow: FakeUnitOfWork) -> None:
        handled.append(message)

    async with in_memory_worker("svc", [Subscription("checked", (Checked,), handle)]) as worker:
        message = Checked(checked_id="c1")
        Checked.validations = 0
        await worker.publish("checked", message)
    # By the codec, with the envelope's type: FastStream does not validate it against the handler's
    # annotation again (a model's after-validators ran twice per delivery, a model's worth of CPU).
    assert Checked.validations == 1
    assert handled == [message]
