from chassis import create_api
from contracts.registry import ALL_MESSAGES
from contracts.topology import SENDS_COMMANDS
from notification.entrypoints.definition import definition
from notification.entrypoints.settings import NotificationSettings
from testkit.routes import threaded_calls


def test_the_definition_publishes_what_the_topology_says_notification_sends_and_runs_a_relay() -> None:
    events = {m.TYPE for m in ALL_MESSAGES if m.KIND == "event" and m.OWNER == "notification"}
    assert {m.TYPE for m in definition().publishes} == events | set(SENDS_COMMANDS["notification"])
    assert definition().relay


def test_no_route_of_the_notification_api_runs_in_a_worker_thread() -> None:
    settings = NotificationSettings(_env_file=None, auth_local_secret="a-test-secret-of-32-bytes-or-more")  # type: ignore[call-arg]
    assert threaded_calls(create_api(definition(settings), settings)) == set()
