"""The generator's HTTP client: one aiohttp session, reusing its connections for every call of a run.

aiohttp rather than httpx: against a trivial local server httpx spent 7 to 10 ms of CPU per POST once a
few hundred were in flight (its connection pool walks every queued request on each change), so the
generator fell behind at 200 orders/s and its own lateness fed back into the figures.
"""

from __future__ import annotations

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=60)


def http_client() -> aiohttp.ClientSession:
    # No bound on connections: an open-loop sender must never queue on its own pool, and keep-alive
    # spares a TCP handshake per order.
    return aiohttp.ClientSession(timeout=TIMEOUT, connector=aiohttp.TCPConnector(limit=0))
