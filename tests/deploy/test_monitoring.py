"""deploy/monitoring: the deploy check's monitoring rules pass on what is committed, and have teeth."""

from __future__ import annotations

import copy
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml

# scripts/ is no package; its scripts import each other by name from there too.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
check = importlib.import_module("deploy_check")


def _yaml(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((check.MONITORING / name).read_text())
    return loaded


def test_monitoring_passes_every_rule() -> None:
    assert check.check_monitoring() == []


def test_a_worker_missing_from_the_compose_scrape_is_caught() -> None:
    config = _yaml("prometheus-compose.yml")
    statics = config["scrape_configs"][0]["static_configs"]
    config["scrape_configs"][0]["static_configs"] = [
        s for s in statics if s["targets"] != ["notification-worker:8004"]
    ]
    assert check.prometheus_rules(config, "compose") == [
        "compose: does not scrape notification-worker:8004 labelled service=notification, role=worker"
    ]


def test_a_kubernetes_scrape_without_the_role_label_or_the_alerts_is_caught() -> None:
    config = _yaml("prometheus.yml")
    config["rule_files"] = []
    job = config["scrape_configs"][0]
    job["relabel_configs"] = [r for r in job["relabel_configs"] if r.get("target_label") != "role"]
    errors = check.prometheus_rules(config, "k8s")
    assert "k8s: rule_files must be [alerts.yml] (the file beside it)" in errors
    assert "k8s: the folio job must set the service and role labels" in errors


def test_a_panel_on_a_fixed_data_source_is_caught() -> None:
    dashboard = json.loads(check.DASHBOARD.read_text())
    broken = copy.deepcopy(dashboard)
    panel = next(p for p in broken["panels"] if p["type"] != "row")
    panel["datasource"] = {"type": "prometheus", "uid": "abc"}
    assert check.dashboard_rules(dashboard) == []
    assert check.dashboard_rules(broken) == [
        f"deploy/monitoring/grafana/folio.json: panel {panel['title']!r} must query ${{datasource}}"
    ]


def test_the_dashboard_config_map_needs_the_sidecar_label() -> None:
    docs = [
        {"kind": "ConfigMap", "metadata": {"name": "folio-prometheus"}, "data": {"prometheus.yml": ""}},
        {"kind": "ConfigMap", "metadata": {"name": "folio-grafana-dashboards"}, "data": {"folio.json": "{}"}},
    ]
    assert check.monitoring_kubernetes_rules(docs) == [
        "monitoring: ConfigMap/folio-prometheus must hold prometheus.yml and alerts.yml",
        "monitoring: ConfigMap/folio-grafana-dashboards needs the label grafana_dashboard=1",
    ]
