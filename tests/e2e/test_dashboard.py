"""The Grafana dashboard queries only what the running services export: every metric name in its PromQL,
with the labels it filters and groups by, is scraped from the stack's own /metrics after one order has gone
from the API to its e-mail."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.client import Customer, Folio, eventually
from devstack.config import SERVICES
from devstack.stack import Stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "monitoring" / "grafana" / "folio.json"

# Made by Prometheus itself, or added to every series by the scrape configuration.
SCRAPE_METRICS = frozenset({"up"})
TARGET_LABELS = frozenset({"job", "instance", "service", "role", "namespace", "pod", "le"})

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?")
_MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_KEYWORDS = frozenset({"bool", "offset", "and", "or", "unless", "inf", "nan"})


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def selectors(expr: str) -> dict[str, set[str]]:
    """Each metric name in ``expr`` with the labels its matchers name."""
    # Matcher values first (they hold dots, pipes and `$service`), then ranges such as [$__rate_interval].
    text = _RANGES.sub("", _STRINGS.sub('""', expr))
    text = _GROUPING.sub("", text)
    found: dict[str, set[str]] = defaultdict(set)
    for match in _SELECTOR.finditer(text):
        name, matchers = match.group(1), match.group(2) or ""
        following = text[match.end() :].lstrip()
        if following.startswith("(") and not matchers:  # a function: rate(, sum(, histogram_quantile(
            continue
        if name.lower() in _KEYWORDS or name[0].isdigit():
            continue
        found[name] |= set(_MATCHER_LABEL.findall(matchers))
    return dict(found)


def grouping_labels(expr: str) -> set[str]:
    labels: set[str] = set()
    for group in _GROUPING.findall(_STRINGS.sub('""', expr)):
        labels |= {label.strip() for label in group.split(",") if label.strip()}
    return labels


def test_the_promql_reader_finds_names_and_labels() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (service, le) (rate(folio_x_bucket{service=~"$service",'
        'status!~"5.."}[$__rate_interval]))) / ignoring(role) folio_y + on (a) group_left(b) up'
    )
    assert selectors(expr) == {"folio_x_bucket": {"service", "status"}, "folio_y": set(), "up": set()}
    assert grouping_labels(expr) == {"service", "le", "role", "a", "b"}


def scrape(url: str) -> dict[str, set[str]]:
    """Every sample name ``url`` exports, with the label names seen on it."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    response.raise_for_status()
    samples: dict[str, set[str]] = defaultdict(set)
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name] |= set(sample.labels)
    return samples


def test_every_metric_the_dashboard_queries_is_exported(stack: Stack, folio: Folio) -> None:
    book = folio.create_book("Dashboards", price="9.00", stock=3)
    order_id = folio.place_order(Customer.named("Grafana"), {book["id"]: 1})
    folio.wait_status(order_id, {"confirmed"}, timeout=30)
    eventually(
        lambda: any(n["status"] == "sent" for n in folio.notifications(order_id)),
        timeout=30,
        what="the confirmation e-mail sent",
    )

    config = stack.config
    # Every replica: the counters of a hand-off live in whichever worker made it.
    urls = [
        url(s, r)
        for url in (config.api_url, config.worker_url)
        for s in SERVICES
        for r in range(config.replicas)
    ]

    def exported_everything() -> dict[str, set[str]] | None:
        # Counters of the relay's last publish and the e-mail hand-off may land a scrape later.
        exported: dict[str, set[str]] = defaultdict(set)
        for url in urls:
            for name, labels in scrape(url).items():
                exported[name] |= labels
        return exported if "folio_notification_hand_offs_total" in exported else None

    exported = eventually(exported_everything, timeout=15, what="the sender's hand-off counted")

    wanted: dict[str, set[str]] = defaultdict(set)
    missing_labels = []
    for expr in dashboard_exprs():
        found = selectors(expr)
        for name, labels in found.items():
            wanted[name] |= labels
        queried = [n for n in found if n in exported]
        for label in grouping_labels(expr) - TARGET_LABELS:
            if queried and not any(label in exported[n] for n in queried):
                missing_labels.append(f"{label!r} grouped in {expr}")
    required = set(wanted) - SCRAPE_METRICS
    assert sorted(required - set(exported)) == []
    for name, labels in wanted.items():
        if name in exported:
            missing_labels += [f"{label!r} on {name}" for label in labels - TARGET_LABELS - exported[name]]
    assert missing_labels == []
