"""Telling "a dependency could not be reached" from "the handler failed".

A message must never spend a retry, or be parked, because the service's database or broker was away: those
errors pause the consumer until the dependency answers again (see ``chassis.messaging.recovery``). Only what
remains counts as the handler's own error. Each kind below is tested against a real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import sqlalchemy.exc
from aiormq.exceptions import ChannelInvalidStateError

# SQLSTATEs that say the server cannot serve this session now, whatever the statement.
UNREACHABLE_SQLSTATES = frozenset(
    {
        "57P01",  # admin_shutdown: the session was terminated (pg_terminate_backend, a fast shutdown)
        "57P02",  # crash_shutdown: another backend crashed and the server restarts
        "57P03",  # cannot_connect_now: the server is starting up or shutting down
        "53300",  # too_many_connections (the server's or the database's CONNECTION LIMIT)
        "25006",  # read_only_sql_transaction: a failover left us on a standby
    }
)
# Class 08, connection exceptions: refused, lost, does not exist, failure.
UNREACHABLE_SQLSTATE_CLASSES = ("08",)
# ``ALTER DATABASE ... ALLOW_CONNECTIONS false`` answers 55000 (object_not_in_prerequisite_state), a code
# that other, genuine errors share (``currval`` before ``nextval``): recognised by its message too.
NOT_ACCEPTING_CONNECTIONS = ("55000", "is not currently accepting connections")


def is_unreachable(error: BaseException) -> bool:
    """True when ``error`` (or what caused it) says the database or broker could not be reached.

    Recognised: connection refused, reset or timed out (``OSError``), the SQLAlchemy pool timing out,
    a connection SQLAlchemy invalidated, a closed asyncpg connection, the SQLSTATEs above (terminated
    sessions, a server starting or stopping, too many connections, a read-only standby after failover),
    a database with ``ALLOW_CONNECTIONS false``, and a lost broker connection or channel.
    """
    return any(_is_unreachable_itself(e) for e in _causes(error))


def _is_unreachable_itself(error: BaseException) -> bool:
    # OSError covers refused, reset and timed-out connections, and aiormq's AMQPConnectionError.
    if isinstance(error, OSError | sqlalchemy.exc.TimeoutError | ChannelInvalidStateError):
        return True
    if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, asyncpg.InterfaceError) and "closed" in str(error):
        return True
    sqlstate = getattr(error, "sqlstate", None)
    if not isinstance(sqlstate, str):
        return False
    if sqlstate in UNREACHABLE_SQLSTATES or sqlstate.startswith(UNREACHABLE_SQLSTATE_CLASSES):
        return True
    code, text = NOT_ACCEPTING_CONNECTIONS
    return sqlstate == code and text in str(error)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every error it was raised from or during, each once."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        pending.extend(
            (current.__cause__, current.__context__, orig if isinstance(orig, BaseException) else None)
        )
