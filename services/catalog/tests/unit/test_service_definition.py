import pytest

from catalog.entrypoints.consumers import subscriptions
from catalog.entrypoints.definition import MIGRATIONS_DIR, definition, routers
from catalog.entrypoints.settings import CatalogSettings
from chassis import create_api
from contracts.registry import ALL_MESSAGES
from contracts.topology import SENDS_COMMANDS, SUBSCRIPTIONS
from testkit.routes import threaded_calls


def test_the_worker_consumes_exactly_what_the_topology_lists_for_the_catalog() -> None:
    consumed = sorted(message.TYPE for subscription in subscriptions() for message in subscription.messages)
    assert consumed == sorted(SUBSCRIPTIONS["catalog"])


def test_queues_are_named_after_their_handlers() -> None:
    assert [s.handler for s in subscriptions()] == ["reserve_stock", "release_stock", "rating_projection"]


def test_the_definition_points_at_the_catalog_migrations() -> None:
    assert definition().name == "catalog"
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert any(path.suffix == ".py" for path in (MIGRATIONS_DIR / "versions").iterdir())


def test_every_resource_has_its_router() -> None:
    assert [router.prefix for router in routers()] == [
        "/api/v1/books",
        "/api/v1/authors",
        "/api/v1/categories",
        "/api/v1/publishers",
    ]


def test_settings_take_the_catalog_prefix_and_default_to_port_8001(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALOG_CURRENCY", "GBP")
    monkeypatch.delenv("CATALOG_HTTP_PORT", raising=False)
    settings = CatalogSettings()
    assert (settings.currency, settings.http_port) == ("GBP", 8001)


def test_the_definition_publishes_what_the_topology_says_catalog_sends_and_runs_a_relay() -> None:
    events = {m.TYPE for m in ALL_MESSAGES if m.KIND == "event" and m.OWNER == "catalog"}
    assert {m.TYPE for m in definition().publishes} == events | set(SENDS_COMMANDS["catalog"])
    assert definition().relay


def test_no_route_of_the_catalog_api_runs_in_a_worker_thread() -> None:
    settings = CatalogSettings(_env_file=None, auth_local_secret="a-test-secret-of-32-bytes-or-more")  # type: ignore[call-arg]
    assert threaded_calls(create_api(definition(settings), settings)) == set()
