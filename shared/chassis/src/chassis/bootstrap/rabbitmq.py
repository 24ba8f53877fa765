"""Vhost, service users, their permissions and topic permissions, and the system's whole topology
(exchanges, queues, bindings), through the management HTTP API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from chassis.bootstrap.changes import Action, Change
from chassis.bootstrap.definitions import Definitions, Exchange, Permissions, Queue, TopicPermission
from chassis.bootstrap.passwords import rabbit_password_matches

FULL = Permissions(".*", ".*", ".*")


class ConflictError(RuntimeError):
    """An object exists with properties the bootstrap cannot change in place (an exchange's type, a queue's
    arguments)."""


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


def queue_body(queue: Queue) -> dict[str, Any]:
    return {"durable": True, "auto_delete": False, "arguments": dict(queue.arguments)}


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
        changes.append(
            await _topic_permissions(
                api, vhost, service.amqp_user, service.topic_permissions, dry_run, vhost_exists=exists
            )
        )
    for exchange in definitions.exchanges:
        changes.append(await _exchange(api, vhost, exchange, dry_run, vhost_exists=exists))
    changes += await _queues(api, definitions, dry_run, vhost_exists=exists)
    changes += await _bindings(api, definitions, dry_run, vhost_exists=exists)
    return changes


async def _topic_permissions(
    api: httpx.AsyncClient,
    vhost: str,
    user: str,
    wanted: tuple[TopicPermission, ...],
    dry_run: bool,
    *,
    vhost_exists: bool,
) -> Change:
    path = f"/api/topic-permissions/{_q(vhost)}/{_q(user)}"
    current = (await _get(api, path) or []) if vhost_exists else []
    have = {(p["exchange"], p["write"], p["read"]) for p in current}
    want = {(p.exchange, p.write, p.read) for p in wanted}
    name = f"{user}@{vhost}"
    if have == want:
        return Change("rabbitmq", "topic-permissions", name, "present")
    if not dry_run:
        if current:
            # Deletes the user's topic permissions on every exchange of the vhost.
            (await api.delete(path)).raise_for_status()
        for p in wanted:
            await _put(api, path, {"exchange": p.exchange, "write": p.write, "read": p.read})
    return Change("rabbitmq", "topic-permissions", name, "updated" if current else "created")


async def _queues(
    api: httpx.AsyncClient, definitions: Definitions, dry_run: bool, *, vhost_exists: bool
) -> list[Change]:
    vhost = _q(definitions.vhost)
    listed = (await _get(api, f"/api/queues/{vhost}?columns=name,durable,auto_delete,arguments")) or []
    current = {q["name"]: q for q in listed} if vhost_exists else {}
    changes = []
    for queue in definitions.queues:
        body = queue_body(queue)
        name = f"{queue.name}@{definitions.vhost}"
        found = current.get(queue.name)
        if found is not None:
            if any(found.get(k) != v for k, v in body.items()):
                raise ConflictError(
                    f"queue {name} exists with {found.get('arguments')}, the worker declares it with"
                    f" {body['arguments']}; delete it (or move its messages) to change it"
                )
            changes.append(Change("rabbitmq", "queue", name, "present"))
            continue
        if not dry_run:
            await _put(api, f"/api/queues/{vhost}/{_q(queue.name)}", body)
        changes.append(Change("rabbitmq", "queue", name, "created"))
    return changes


async def _bindings(
    api: httpx.AsyncClient, definitions: Definitions, dry_run: bool, *, vhost_exists: bool
) -> list[Change]:
    vhost = _q(definitions.vhost)
    listed = (await _get(api, f"/api/bindings/{vhost}")) if vhost_exists else None
    current = {
        (b["source"], b["destination"], b["routing_key"])
        for b in listed or []
        if b.get("destination_type") == "queue"
    }
    changes = []
    for binding in definitions.bindings:
        key = (binding.source, binding.queue, binding.routing_key)
        name = f"{binding.source} -> {binding.queue} ({binding.routing_key})@{definitions.vhost}"
        if key in current:
            changes.append(Change("rabbitmq", "binding", name, "present"))
            continue
        if not dry_run:
            path = f"/api/bindings/{vhost}/e/{_q(binding.source)}/q/{_q(binding.queue)}"
            (
                await api.post(path, json={"routing_key": binding.routing_key, "arguments": {}})
            ).raise_for_status()
        changes.append(Change("rabbitmq", "binding", name, "created"))
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
