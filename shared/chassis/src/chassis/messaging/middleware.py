"""The service broker's delivery middleware: every delivery of every queue through its queue's Consumer.

FastStream has parsed the delivery (``chassis.messaging.codec``) when ``consume_scope`` runs; the middleware
gives it to the :class:`Consumer` of the subscriber it arrived on, which decodes it, opens the unit of work
with the inbox claim, runs FastStream's handler inside it (``call_next``, the unit of work given to the
handler through :func:`current_uow`), and acks, retries, parks or holds it. The subscribers are declared with
``AckPolicy.MANUAL``: the Consumer alone tells the broker what became of a delivery, after its
republishes are confirmed.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from faststream import BaseMiddleware
from faststream.message import StreamMessage

from chassis.messaging.codec import Delivery
from chassis.messaging.consumer import Consumer
from contracts.base import Message

if TYPE_CHECKING:
    from faststream._internal.basic_types import AsyncFuncAny
    from faststream._internal.context.repository import ContextRepo

# The unit of work of the delivery whose handler is running. Not a FastStream ``Context`` parameter: its
# resolver is synchronous, so fast_depends ran it in a worker thread for every delivery.
_uow: ContextVar[Any] = ContextVar("folio_uow")


def current_uow() -> Any:
    """The unit of work of the delivery being handled (LookupError outside a handler)."""
    return _uow.get()


class DeliveryMiddleware(BaseMiddleware):
    """Built by FastStream once per delivery, with the broker's consumers by queue."""

    def __init__(self, msg: Any, /, *, context: ContextRepo, consumers: Mapping[str, Consumer[Any]]) -> None:
        super().__init__(msg, context=context)
        self._consumers = consumers

    async def consume_scope(self, call_next: AsyncFuncAny, msg: StreamMessage[Any]) -> Any:
        consumer = self._consumers.get(self.context.get_local("handler_").queue.name)
        if consumer is None:  # a subscriber of the broker's own that takes no contract message
            return await call_next(msg)

        async def run(message: Message, uow: Any) -> object:
            token = _uow.set(uow)
            try:
                return await call_next(msg)
            finally:
                _uow.reset(token)

        assert isinstance(msg, Delivery)  # the subscriber's parser made it
        await consumer.process(msg, run)
        return None


class DeliveryMiddlewares:
    """What FastStream calls to build a :class:`DeliveryMiddleware` per delivery."""

    def __init__(self) -> None:
        self.consumers: dict[str, Consumer[Any]] = {}

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> DeliveryMiddleware:
        return DeliveryMiddleware(msg, context=context, consumers=self.consumers)
