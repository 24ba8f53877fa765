"""The kinds a real PostgreSQL cannot easily be made to produce on a shared server, by their SQLSTATE."""

from __future__ import annotations

import asyncpg
import pytest
from aiormq.exceptions import ChannelInvalidStateError, ChannelNotFoundEntity

from chassis.messaging.republish import PublishNotConfirmed
from chassis.messaging.unreachable import is_unreachable


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.CannotConnectNowError("the database system is starting up"),  # 57P03
        asyncpg.CrashShutdownError("terminating connection because of crash of another server process"),
        asyncpg.ConnectionFailureError("connection failure"),  # 08006
        ChannelInvalidStateError("channel closed"),
    ],
    ids=["cannot_connect_now", "crash_shutdown", "connection_failure", "broker_channel_closed"],
)
def test_a_server_going_away_is_unreachable(error: BaseException) -> None:
    assert is_unreachable(error)


def test_an_error_raised_from_an_unreachable_one_is_unreachable() -> None:
    cause = asyncpg.CannotConnectNowError("the database system is shutting down")
    error = RuntimeError("could not claim the inbox row")
    error.__cause__ = cause
    assert is_unreachable(error)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("handler broke"),
        ValueError("bad value"),
        PublishNotConfirmed("broker answered Basic.Nack"),
        ChannelNotFoundEntity("no queue 'svc.ping.retry.1'"),
        asyncpg.SerializationError("could not serialize access"),
    ],
    ids=["runtime", "value", "not_confirmed", "missing_queue", "serialization"],
)
def test_an_error_of_the_handler_or_the_topology_is_not(error: BaseException) -> None:
    assert not is_unreachable(error)
