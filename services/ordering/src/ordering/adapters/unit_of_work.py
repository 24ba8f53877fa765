"""Ordering's unit of work: the chassis one with ordering's repositories and saga policy."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis import UnitOfWork
from ordering.adapters.message_mapping import to_message
from ordering.adapters.reads import SqlReads
from ordering.adapters.repositories import SqlHistory, SqlOrders, SqlSagas
from ordering.domain.saga import SagaPolicy

SOURCE = "/folio/ordering"


class OrderingUnitOfWork(UnitOfWork):
    orders: SqlOrders
    sagas: SqlSagas
    history: SqlHistory
    reads: SqlReads

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *, policy: SagaPolicy) -> None:
        super().__init__(session_factory, source=SOURCE, event_mapper=to_message)
        self.policy = policy

    def _start(self) -> None:
        self.orders = SqlOrders(self.session)
        self.sagas = SqlSagas(self.session, self.orders)
        self.history = SqlHistory(self.session)
        self.reads = SqlReads(self.session)


def uow_factory(
    sessions: async_sessionmaker[AsyncSession], policy: SagaPolicy
) -> Callable[[], OrderingUnitOfWork]:
    return lambda: OrderingUnitOfWork(sessions, policy=policy)
