from contracts.registry import ALL_MESSAGES
from contracts.topology import SENDS_COMMANDS
from notification.entrypoints.definition import definition


def test_the_definition_publishes_what_the_topology_says_notification_sends_and_runs_a_relay() -> None:
    events = {m.TYPE for m in ALL_MESSAGES if m.KIND == "event" and m.OWNER == "notification"}
    assert {m.TYPE for m in definition().publishes} == events | set(SENDS_COMMANDS["notification"])
    assert definition().relay
