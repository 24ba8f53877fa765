import json
import math

import pytest

from loadgenerator.report import BenchReport, Ceilings, StepResult, implied_ceilings, render_table
from loadgenerator.stats import Latency


def step(rate: float, **changes: object) -> StepResult:
    values: dict[str, object] = {
        "rate": rate,
        "seconds": 20.0,
        "placed": int(rate * 20),
        "accepted": int(rate * 20),
        "failed": 0,
        "sent_per_s": rate,
        "confirmed": int(rate * 20),
        "rejected": 0,
        "unsettled": 0,
        "confirmed_per_s": rate,
        "drain_seconds": 0.2,
        "post_ms": Latency.of([10.0, 20.0]),
        "placed_to_confirmed_ms": Latency.of([40.0, 50.0, 60.0]),
        "send_lag_ms": 1.0,
        "outbox_lag_ms": {"all": Latency.of([5.0, 15.0]), "catalog": Latency.of([5.0])},
        "messages_per_order": 5.0,
        "commits_per_order": 8.0,
        "cpu_percent": {"ordering-worker": 30.0, "catalog-worker": 25.0, "rating-api": 1.0, "mail": 0.0},
        "host_cpu_percent": 55.0,
        "cpu_ms_per_order": 50.0,
    }
    values.update(changes)
    return StepResult(**values)  # type: ignore[arg-type]


def report(**changes: object) -> BenchReport:
    values: dict[str, object] = {
        "started_at": "2026-11-23T12:00:00Z",
        "target": "a test",
        "host": {"cpus": 2},
        "steps": [step(5), step(10)],
        "ceilings": Ceilings(5000.0, 4000.0, "pgbench -c 8"),
        "notes": ["shared machine"],
    }
    values.update(changes)
    return BenchReport(**values)  # type: ignore[arg-type]


def test_implied_ceilings_divide_each_ceiling_by_the_cost_of_an_order() -> None:
    assert implied_ceilings(report()) == {"broker": 1000.0, "postgres": 500.0, "cpu": 40.0}


def test_implied_ceilings_are_absent_without_their_figures() -> None:
    bare = report(ceilings=None, steps=[step(5, messages_per_order=None, cpu_ms_per_order=None)])
    assert implied_ceilings(bare) == {"broker": None, "postgres": None, "cpu": None}


def test_the_table_has_one_row_per_step_and_the_ceilings() -> None:
    text = render_table(report())
    lines = text.splitlines()
    assert "rate/s" in lines[1]
    assert lines[3].split()[0] == "5"
    assert lines[4].split()[0] == "10"
    assert "50 / 59 / 60" in lines[3]  # placed→confirmed p50 / p95 / p99
    assert "ordering-worker 30, catalog-worker 25, rating-api 1" in lines[3]
    assert "→ 1,000 orders/s" in text
    assert "→ 500 orders/s" in text
    assert "→ 40 orders/s" in text
    assert text.endswith("note: shared machine")


def test_the_table_shows_dashes_for_what_was_not_measured() -> None:
    empty = step(5, outbox_lag_ms={}, messages_per_order=None, placed_to_confirmed_ms=Latency.of([]))
    row = render_table(report(steps=[empty], ceilings=None)).splitlines()[3]
    assert "- / - / -" in row
    assert "ceiling" not in render_table(report(steps=[empty], ceilings=None))


def test_the_json_round_trips_through_text() -> None:
    original = report()
    data = json.loads(json.dumps(original.to_json()))
    assert data["implied_ceilings_orders_per_s"]["postgres"] == 500.0
    again = BenchReport.from_json(data)
    assert again.steps[0].outbox_lag_ms["catalog"].count == 1
    assert again.steps[1].placed_to_confirmed_ms.p50 == pytest.approx(50.0)
    assert again.ceilings == original.ceilings
    assert render_table(again) == render_table(original)


def test_nan_never_reaches_the_json() -> None:
    text = json.dumps(report(steps=[step(5, post_ms=Latency.of([]))]).to_json(), allow_nan=False)
    assert math.isnan(BenchReport.from_json(json.loads(text)).steps[0].post_ms.p50)


def test_a_void_step_is_marked_in_the_table_and_survives_the_json() -> None:
    spoiled = report(steps=[step(5, void="the broker went away during the step")])
    assert render_table(spoiled).splitlines()[3].lstrip().startswith("5 (void)")
    assert BenchReport.from_json(spoiled.to_json()).steps[0].void == "the broker went away during the step"


def test_the_table_says_when_the_generator_fell_behind() -> None:
    lagging = report(steps=[step(200, offered_per_s=120.0, generator_cpu_percent=99.0), step(10)])
    text = render_table(lagging)
    assert "120.0 !" in text.splitlines()[3]
    assert "fell behind at 200/s: it offered 120.0/s using 99% of a core" in text
    assert "fell behind at 10/s" not in text


def test_the_table_shows_shed_answers_and_cpu_split_with_its_ratio() -> None:
    row = render_table(
        report(steps=[step(80, shed=42, folio_cpu_ms_per_order=40.0, servers_cpu_ms_per_order=8.0)])
    ).splitlines()[3]
    assert " 42 " in row
    assert "40.0 / 8.0 = 5.0" in row


def test_the_table_shows_cpu_per_unit_of_work_per_process_and_sql_per_message() -> None:
    measured = step(
        10,
        cpu_us_per_unit={"ordering-api": 8000.0, "catalog-worker": 11000.0},
        units={"ordering-api": 200, "catalog-worker": 400},
        sql_per_message={"transactions": 2.5},
        sql_method="pg_stat_database",
    )
    text = render_table(report(steps=[measured]))
    assert "ordering-api per HTTP request" in text
    assert "8,000 (200)" in text
    assert "catalog-worker per message handled" in text
    assert "transactions per message handled" in text
    assert "SQL counted from pg_stat_database" in text
    again = BenchReport.from_json(json.loads(json.dumps(report(steps=[measured]).to_json())))
    assert again.steps[0].cpu_us_per_unit == measured.cpu_us_per_unit


def test_the_generator_ceiling_is_printed_and_kept() -> None:
    trial = {
        "rate": 200.0,
        "offered_per_s": 199.5,
        "cpu_percent": 17.0,
        "post_p50_ms": 1.7,
        "post_p99_ms": 15.0,
        "failed": 0.0,
    }
    measured = report(generator_ceiling=[trial])
    assert "asked 200/s, offered 199.5/s using 17% of a core" in render_table(measured)
    assert BenchReport.from_json(measured.to_json()).generator_ceiling == [trial]


def test_the_table_says_why_orders_failed() -> None:
    text = render_table(report(steps=[step(80, failed=3, failed_statuses={"503": 2, "0": 1})]))
    assert "at 80/s, orders not accepted by their last answer: 1 with no answer, 2 answered 503" in text
