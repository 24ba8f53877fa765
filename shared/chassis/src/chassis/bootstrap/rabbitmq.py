"""Vhost, service users, their permissions and the system's exchanges, through the management HTTP API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from chassis.bootstrap.changes import Action, Change
from chassis.bootstrap.definitions import Definitions, Exchange, Permissions
from chassis.bootstrap.passwords import rabbit_password_matches

FULL = Permissions(".*", ".*", ".*")


class ConflictError(RuntimeError):
    """An object exists with properties the bootstrap cannot change in place (an exchange's type)."""


def management_client(url: str) -> httpx.AsyncClient:
    """A client for ``http://user:password@host:15672`` (credentials taken out of the URL)."""
    parts = urlsplit(url)
    netloc = parts.hostname or "127.0.0.1"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    base = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return httpx.AsyncClient(base_url=base, auth=admin_credentials(url), timeout=30)


def admin_credentials(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.username or "guest", parts.password or "guest"


def _q(name: str) -> str:
    return quote(name, safe="")


async def _get(api: httpx.AsyncClient, path: str) -> Any | None:
    response = await api.get(path)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


async def _put(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    (await api.put(path, json=body)).raise_for_status()


def exchange_body(exchange: Exchange) -> dict[str, Any]:
    return {"type": exchange.type, "durable": True, "auto_delete": False, "internal": False, "arguments": {}}


def _tags(user: dict[str, Any]) -> list[str]:
    tags = user.get("tags") or []
    # The management API answers a list since 3.9, a comma-separated string before.
    return [t for t in tags.split(",") if t] if isinstance(tags, str) else list(tags)


async def apply(
    api: httpx.AsyncClient, definitions: Definitions, *, admin_user: str, dry_run: bool = False
) -> list[Change]:
    vhost = definitions.vhost
    v = _q(vhost)
    changes = []
    exists = await _get(api, f"/api/vhosts/{v}") is not None
    if not exists and not dry_run:
        await _put(api, f"/api/vhosts/{v}", {"description": "Folio"})
    changes.append(Change("rabbitmq", "vhost", vhost, "present" if exists else "created"))
    # The admin needs rights in the vhost to declare its exchanges.
    changes.append(await _permissions(api, vhost, admin_user, FULL, dry_run, vhost_exists=exists))
    for service in definitions.services:
        user = await _get(api, f"/api/users/{_q(service.amqp_user)}")
        action: Action = "present"
        if user is None:
            action = "created"
        elif _tags(user) or not rabbit_password_matches(
            user.get("password_hash", ""), user.get("hashing_algorithm", ""), service.amqp_password
        ):
            action = "updated"
        if action != "present" and not dry_run:
            await _put(
                api, f"/api/users/{_q(service.amqp_user)}", {"password": service.amqp_password, "tags": ""}
            )
        changes.append(Change("rabbitmq", "user", service.amqp_user, action))
        changes.append(
            await _permissions(
                api, vhost, service.amqp_user, service.permissions, dry_run, vhost_exists=exists
            )
        )
    for exchange in definitions.exchanges:
        changes.append(await _exchange(api, vhost, exchange, dry_run, vhost_exists=exists))
    return changes


async def _permissions(
    api: httpx.AsyncClient, vhost: str, user: str, wanted: Permissions, dry_run: bool, *, vhost_exists: bool
) -> Change:
    path = f"/api/permissions/{_q(vhost)}/{_q(user)}"
    current = await _get(api, path) if vhost_exists else None
    body = {"configure": wanted.configure, "write": wanted.write, "read": wanted.read}
    name = f"{user}@{vhost}"
    if current is not None and all(current.get(k) == v for k, v in body.items()):
        return Change("rabbitmq", "permissions", name, "present")
    if not dry_run:
        await _put(api, path, body)
    return Change("rabbitmq", "permissions", name, "created" if current is None else "updated")


async def _exchange(
    api: httpx.AsyncClient, vhost: str, exchange: Exchange, dry_run: bool, *, vhost_exists: bool
) -> Change:
    path = f"/api/exchanges/{_q(vhost)}/{_q(exchange.name)}"
    current = await _get(api, path) if vhost_exists else None
    body = exchange_body(exchange)
    name = f"{exchange.name}@{vhost}"
    if current is not None:
        if any(current.get(k) != v for k, v in body.items()):
            raise ConflictError(f"exchange {name} exists as {current}, wanted {body}; delete it to change it")
        return Change("rabbitmq", "exchange", name, "present")
    if not dry_run:
        await _put(api, path, body)
    return Change("rabbitmq", "exchange", name, "created")


async def teardown(
    api: httpx.AsyncClient, definitions: Definitions, *, dry_run: bool = False
) -> list[Change]:
    """Delete the service users and the vhost (with everything in it); the default vhost ``/`` is kept."""
    changes = []
    for service in definitions.services:
        path = f"/api/users/{_q(service.amqp_user)}"
        exists = await _get(api, path) is not None
        if exists and not dry_run:
            (await api.delete(path)).raise_for_status()
        changes.append(Change("rabbitmq", "user", service.amqp_user, "removed" if exists else "absent"))
    vhost = definitions.vhost
    if vhost == "/":
        for exchange in definitions.exchanges:
            path = f"/api/exchanges/{_q(vhost)}/{_q(exchange.name)}"
            exists = await _get(api, path) is not None
            if exists and not dry_run:
                (await api.delete(path)).raise_for_status()
            changes.append(Change("rabbitmq", "exchange", exchange.name, "removed" if exists else "absent"))
        return changes
    path = f"/api/vhosts/{_q(vhost)}"
    exists = await _get(api, path) is not None
    if exists and not dry_run:
        (await api.delete(path)).raise_for_status()
    changes.append(Change("rabbitmq", "vhost", vhost, "removed" if exists else "absent"))
    return changes
