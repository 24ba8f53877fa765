"""The ``Date`` header (RFC 9110 §6.6.1), set on each response as it starts.

uvicorn keeps its Date header fresh from a timer that wakes the server ten times a second, busy or idle.
Setting the header here costs a clock read per response and lets an idle server sleep until it is asked
something or told to stop.
"""

from __future__ import annotations

import time
from email.utils import formatdate

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class DateHeader:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._second = -1
        self._header = (b"date", b"")

    def _date(self) -> tuple[bytes, bytes]:
        now = int(time.time())
        if now != self._second:
            self._second, self._header = now, (b"date", formatdate(now, usegmt=True).encode())
        return self._header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [self._date(), *message.get("headers", ())]
            await send(message)

        await self.app(scope, receive, dated)
