from chassis import create_api
from contracts.registry import ALL_MESSAGES
from contracts.topology import SENDS_COMMANDS
from ordering.entrypoints.definition import definition
from ordering.entrypoints.settings import OrderingSettings
from testkit.routes import threaded_calls


def test_the_definition_publishes_what_the_topology_says_ordering_sends_and_runs_a_relay() -> None:
    events = {m.TYPE for m in ALL_MESSAGES if m.KIND == "event" and m.OWNER == "ordering"}
    assert {m.TYPE for m in definition().publishes} == events | set(SENDS_COMMANDS["ordering"])
    assert definition().relay


def test_no_route_of_the_ordering_api_runs_in_a_worker_thread() -> None:
    settings = OrderingSettings(_env_file=None, auth_local_secret="a-test-secret-of-32-bytes-or-more")  # type: ignore[call-arg]
    assert threaded_calls(create_api(definition(settings), settings)) == set()
