"""The OIDC issuer's signing keys, fetched asynchronously and kept between fetches.

What a hostile caller cannot do with a token naming a key id we have not seen: make us fetch the JWKS more
than once per ``min_refresh_interval``, or make us forget the keys we have. Concretely:

- one fetch at a time: concurrent requests that need a fetch wait for the same one;
- the key set is refetched in the background once older than ``max_age`` (requests keep using the old one);
- an unknown ``kid`` triggers a fetch only if the last one started ``min_refresh_interval`` ago or more;
- a failed fetch keeps the last good key set; only without any key set is the issuer "unavailable".

Each fetch has a client of its own, but all share one TLS context, made once in a thread: an
``httpx.AsyncClient()`` loads the CA store on the event loop (20-30 ms CPU, every request of the process
waiting), at every refresh.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Collection

import httpx
from jwt import PyJWK, PyJWKSet

logger = logging.getLogger(__name__)


class JwksUnavailable(Exception):
    """No key set could be fetched yet."""


class UnknownKey(Exception):
    """The issuer publishes no usable key under this id (after a refresh, or while refreshes are held)."""


class JwksKeys:
    def __init__(
        self,
        url: str,
        *,
        algorithms: Collection[str],
        min_refresh_interval: float = 30.0,
        max_age: float = 300.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._algorithms = frozenset(algorithms)
        self._min_refresh_interval = min_refresh_interval
        self._max_age = max_age
        self._timeout = timeout
        self._clock = clock
        self._keys: dict[str | None, PyJWK] | None = None
        self._fetched_at = 0.0
        self._last_attempt: float | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._tls: ssl.SSLContext | None = None

    async def key(self, kid: str | None) -> PyJWK:
        """The key for ``kid`` (None: the issuer's only key). Raises UnknownKey or JwksUnavailable."""
        if self._keys is None:
            await self._refresh()
        elif self._clock() - self._fetched_at >= self._max_age and self._refresh_allowed():
            # Stale but usable: refresh behind the request, never in its way.
            self._start_refresh()
        keys = self._keys
        if keys is None:
            raise JwksUnavailable(f"cannot fetch the issuer's keys from {self.url}")
        found = self._lookup(keys, kid)
        if found is not None:
            return found
        if not self._refresh_allowed():
            raise UnknownKey(f"no signing key {kid!r} (the issuer's keys were fetched moments ago)")
        await self._refresh()
        found = self._lookup(self._keys or {}, kid)
        if found is None:
            raise UnknownKey(f"the issuer publishes no signing key {kid!r}")
        return found

    @staticmethod
    def _lookup(keys: dict[str | None, PyJWK], kid: str | None) -> PyJWK | None:
        if kid is None:
            return next(iter(keys.values())) if len(keys) == 1 else None
        return keys.get(kid)

    def _refresh_allowed(self) -> bool:
        if self._refreshing is not None and not self._refreshing.done():
            return True  # joining the fetch in flight costs the issuer nothing
        return self._last_attempt is None or self._clock() - self._last_attempt >= self._min_refresh_interval

    def _start_refresh(self) -> asyncio.Task[None]:
        if self._refreshing is None or self._refreshing.done():
            self._last_attempt = self._clock()
            self._refreshing = asyncio.get_running_loop().create_task(self._fetch())
        return self._refreshing

    async def _refresh(self) -> None:
        # Shielded: a request cancelled while waiting does not cancel the fetch the others wait for.
        await asyncio.shield(self._start_refresh())

    async def _fetch(self) -> None:
        try:
            if self._tls is None:
                self._tls = await asyncio.to_thread(httpx.create_ssl_context)
            async with httpx.AsyncClient(timeout=self._timeout, verify=self._tls) as client:
                response = await client.get(self.url, headers={"Accept": "application/json"})
                response.raise_for_status()
                document = response.json()
            key_set = PyJWKSet.from_dict(document if isinstance(document, dict) else {})
        except Exception as error:  # whatever went wrong, the keys we have stay good
            logger.warning(
                "cannot refresh the JWKS from %s (keeping the last good keys): %s", self.url, error
            )
            return
        keys = {
            key.key_id: key
            for key in key_set.keys
            if key.algorithm_name in self._algorithms and key.public_key_use in (None, "sig")
        }
        if not keys:
            logger.warning(
                "the JWKS at %s holds no usable signing key (keeping the last good keys)", self.url
            )
            return
        self._keys = keys
        self._fetched_at = self._clock()
