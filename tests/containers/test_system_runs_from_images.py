"""Folio as its users run it: every service's migrate, api and worker from the built images under
docker-compose.yml, hardened as compose and Kubernetes run them, carries an order to its e-mail and a feedback
to the catalog's average, and stops when told."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from devstack.client import Customer, Folio, eventually
from devstack.config import SERVICES

if TYPE_CHECKING:
    from tests.containers.conftest import ComposeStack

pytestmark = pytest.mark.e2e

TIMEOUT = 60.0
ROLES = ("migrate", "api", "worker")


def folio_containers(stack: ComposeStack) -> dict[str, dict[str, Any]]:
    containers = stack.containers()
    expected = {f"{service}-{role}" for service in SERVICES for role in ROLES}
    assert expected <= containers.keys(), sorted(expected - containers.keys())
    return {name: containers[name] for name in sorted(expected)}


# Run inside a container: what its first process (the service) is allowed, as the kernel sees it.
PROBE = """
import json
status = dict(line.split(":", 1) for line in open("/proc/1/status") if ":" in line)
root = next(line.split()[3] for line in open("/proc/1/mounts") if line.split()[1] == "/")
print(json.dumps({
    "uid": status["Uid"].split(),
    "capabilities": status["CapBnd"].strip(),
    "no_new_privileges": status["NoNewPrivs"].strip(),
    "root": root.split(",")[0],
}))
"""


def test_every_service_runs_from_its_image_hardened(compose_stack: ComposeStack) -> None:
    containers = folio_containers(compose_stack)
    for name, container in containers.items():
        service, role = name.rsplit("-", 1)
        config, state = container["Config"], container["State"]
        assert config["Image"].endswith(f"folio/{service}:dev"), name
        assert config["Cmd"] == [role], name
        if role == "migrate":
            assert (state["Status"], state["ExitCode"]) == ("exited", 0), name
            # It has ended: its settings are those of the api, whose process is probed below.
            api = containers[f"{service}-api"]
            for key in ("ReadonlyRootfs", "CapDrop", "CapAdd", "SecurityOpt"):
                assert container["HostConfig"][key] == api["HostConfig"][key], (name, key)
            assert config["User"] == api["Config"]["User"], name
            continue
        assert state["Status"] == "running", name
        assert (state.get("Health") or {}).get("Status") == "healthy", name
        probe = compose_stack.compose("exec", "-T", name, "python", "-c", PROBE)
        assert probe.returncode == 0, (name, probe.stderr)
        assert json.loads(probe.stdout) == {
            "uid": ["10001"] * 4,
            "capabilities": "0000000000000000",
            "no_new_privileges": "1",
            "root": "ro",
        }, name


def test_an_order_reaches_its_email_and_feedback_the_catalogs_average(compose_stack: ComposeStack) -> None:
    with Folio(compose_stack.config) as folio:
        author = folio.create_author("Ursula K. Le Guin")
        category = folio.create_category(f"Containers {Customer.named('x').subject}")
        book = folio.create_book("The Dispossessed", price="9.50", stock=3, author_ids=[author],
                                 category_id=category)  # fmt: skip
        buyer = Customer.named("Ada")

        order_id = folio.place_order(buyer, {book["id"]: 2})
        order = folio.wait_status(order_id, {"confirmed"}, TIMEOUT)
        assert order["total"] == {"amount": "19.00", "currency": "EUR"}

        notes = eventually(
            lambda: folio.notifications(order_id) or None, timeout=TIMEOUT, what="notification"
        )
        mails = eventually(
            lambda: [m for m in folio.mails() if m["notification_id"] == notes[0]["id"]] or None,
            timeout=TIMEOUT,
            what="the confirmation e-mail in the sink",
        )
        assert mails[0]["rcpt_tos"] == [order["customer_email"]]
        assert mails[0]["subject"] == notes[0]["subject"]

        assert folio.complete_order(order_id)["status"] == "completed"
        folio.give_feedback(buyer, book["id"], 4, "An ambiguous utopia, well told.", timeout=TIMEOUT)
        eventually(
            lambda: folio.book(book["id"])["rating_count"] == 1, timeout=TIMEOUT, what="catalog counts it"
        )
        assert folio.book(book["id"])["average_rating"] == 4.0
        verified = eventually(
            lambda: [f for f in folio.feedback(book["id"]) if f["verified_purchase"]] or None,
            timeout=TIMEOUT,
            what="the feedback verified as a purchase",
        )
        assert [f["stars"] for f in verified] == [4]


def test_every_process_stops_gracefully_when_told(compose_stack: ComposeStack) -> None:
    stop = compose_stack.compose("stop", "--timeout", "40", timeout=300)
    assert stop.returncode == 0, stop.stderr
    for name, container in folio_containers(compose_stack).items():
        state = container["State"]
        # 0: the role ended on SIGTERM by itself, well inside the grace period (137 would be SIGKILL).
        assert (state["Status"], state["ExitCode"]) == ("exited", 0), (name, state)
