import pytest

from chassis import create_api
from contracts.registry import ALL_MESSAGES
from contracts.topology import SENDS_COMMANDS, SUBSCRIPTIONS
from rating.entrypoints.consumers import subscriptions
from rating.entrypoints.definition import definition
from rating.entrypoints.settings import RatingSettings
from testkit.routes import threaded_calls


def test_the_worker_consumes_exactly_what_the_topology_says_rating_consumes() -> None:
    consumed = sorted(m.TYPE for s in subscriptions() for m in s.messages)
    assert consumed == sorted(SUBSCRIPTIONS["rating"])
    assert [s.handler for s in subscriptions()] == ["book_replica", "verified_purchases"]


def test_rating_settings_read_the_rating_prefix_and_default_to_port_8003(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RATING_DATABASE_URL", "postgresql://r@db/rating")
    settings = RatingSettings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.database_url, settings.http_port) == ("postgresql://r@db/rating", 8003)


def test_the_definition_publishes_what_the_topology_says_rating_sends_and_runs_a_relay() -> None:
    events = {m.TYPE for m in ALL_MESSAGES if m.KIND == "event" and m.OWNER == "rating"}
    assert {m.TYPE for m in definition().publishes} == events | set(SENDS_COMMANDS["rating"])
    assert definition().relay


def test_no_route_of_the_rating_api_runs_in_a_worker_thread() -> None:
    settings = RatingSettings(_env_file=None, auth_local_secret="a-test-secret-of-32-bytes-or-more")  # type: ignore[call-arg]
    assert threaded_calls(create_api(definition(settings), settings)) == set()
