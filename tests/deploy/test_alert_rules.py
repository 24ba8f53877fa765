"""Folio's Prometheus alert rules are valid and fire as their unit tests say (``promtool test rules``).

promtool comes with Debian's ``prometheus`` package (``apt-get install prometheus``). Without it these tests
are skipped locally, but fail under CI (``CI=true``), where a missing promtool must not pass for green.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        missing = "promtool is not installed (apt-get install prometheus)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{missing}: CI must run the alert rules' tests")
        pytest.skip(missing)
    return found


def run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], cwd=MONITORING, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_alert_rules_are_valid_prometheus_rules(promtool: str) -> None:
    checked = run(promtool, "check", "rules", "alerts.yml")

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_fires_as_its_unit_tests_say(promtool: str) -> None:
    tested = run(promtool, "test", "rules", "alerts_test.yml")

    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_a_unit_test_and_the_rules_are_one_group() -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    tests = yaml.safe_load((MONITORING / "alerts_test.yml").read_text())
    [group] = rules["groups"]
    alerts = {rule["alert"] for rule in group["rules"]}
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"]}

    assert group["name"] == "folio"
    assert "FolioTargetDown" in alerts
    assert alerts - tested == set()
