from contracts.registry import ALL_MESSAGES
from contracts.topology import SENDS_COMMANDS
from ordering.entrypoints.definition import definition


def test_the_definition_publishes_what_the_topology_says_ordering_sends_and_runs_a_relay() -> None:
    events = {m.TYPE for m in ALL_MESSAGES if m.KIND == "event" and m.OWNER == "ordering"}
    assert {m.TYPE for m in definition().publishes} == events | set(SENDS_COMMANDS["ordering"])
    assert definition().relay
