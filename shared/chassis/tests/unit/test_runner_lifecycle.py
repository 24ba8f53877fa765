"""Waiting for servers with backoff, watching worker tasks, and the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chassis import lifecycle
from chassis.definition import ServiceDefinition
from chassis.lifecycle import Stopped, with_backoff
from chassis.runner import _until_stopped_or_failed, parse_args
from chassis.settings import ServiceSettings
from chassis.uow import UnitOfWork


@pytest.fixture(autouse=True)
def quick_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "FIRST_PAUSE", 0.01)
    monkeypatch.setattr(lifecycle, "LONGEST_PAUSE", 0.04)


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionRefusedError("not yet")
        return "connected"


async def test_backoff_retries_until_the_server_answers() -> None:
    flaky = Flaky(failures=4)

    assert await with_backoff(flaky, what="the database", stop=asyncio.Event()) == "connected"
    assert flaky.calls == 5


async def test_backoff_gives_up_when_asked_to_stop() -> None:
    stop = asyncio.Event()
    waiting = asyncio.create_task(with_backoff(Flaky(failures=1000), what="the broker", stop=stop))
    await asyncio.sleep(0.1)

    stop.set()

    with pytest.raises(Stopped):
        await asyncio.wait_for(waiting, 1)


async def test_backoff_raises_the_last_error_after_its_deadline() -> None:
    with pytest.raises(ConnectionRefusedError):
        await with_backoff(Flaky(failures=1000), what="the database", stop=asyncio.Event(), deadline=0.1)


async def test_a_task_failing_before_stop_is_reported() -> None:
    async def crash() -> None:
        raise ValueError("scanner broke")

    async def run_until(stop: asyncio.Event) -> None:
        await stop.wait()

    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_until(stop)), asyncio.create_task(crash())]

    failure = await asyncio.wait_for(_until_stopped_or_failed(stop, tasks), 1)

    assert isinstance(failure, ValueError)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_stop_ends_the_watch_without_a_failure() -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(stop.wait())
    asyncio.get_running_loop().call_later(0.05, stop.set)

    assert await asyncio.wait_for(_until_stopped_or_failed(stop, [task]), 1) is None


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="catalog",
        settings_factory=ServiceSettings,
        uow_factory=lambda sessions: lambda: UnitOfWork(sessions, source="catalog"),
        migrations_dir=Path("migrations"),
    )


@pytest.mark.parametrize("role", ["api", "worker", "all", "migrate"])
def test_each_role_parses(role: str) -> None:
    assert parse_args(definition(), [role]).role == role


def test_a_role_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(definition(), [])

    assert "python -m catalog" in capsys.readouterr().err


def test_routers_may_be_a_sequence_or_a_factory() -> None:
    from fastapi import APIRouter

    router = APIRouter()
    given = ServiceDefinition(
        name="x",
        settings_factory=ServiceSettings,
        uow_factory=definition().uow_factory,
        migrations_dir=Path(),
        routers=[router],
    )
    built = ServiceDefinition(
        name="x",
        settings_factory=ServiceSettings,
        uow_factory=definition().uow_factory,
        migrations_dir=Path(),
        routers=lambda: [router],
    )

    assert list(given.api_routers()) == [router] == list(built.api_routers())
    assert list(definition().subscriptions()) == []


def test_a_definition_that_publishes_must_run_a_relay() -> None:
    from contracts.catalog import BookCreated

    with pytest.raises(ValueError, match="runs no relay"):
        ServiceDefinition(
            name="x",
            settings_factory=ServiceSettings,
            uow_factory=definition().uow_factory,
            migrations_dir=Path(),
            publishes=(BookCreated,),
        )

    assert definition().relay is False
    assert definition().publishes == ()
