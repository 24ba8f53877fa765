from __future__ import annotations

import pytest

from testkit.polling import eventually


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    async def reaches_three(self) -> bool:
        self.calls += 1
        return self.calls >= 3

    async def asserts_three(self) -> int:
        self.calls += 1
        assert self.calls >= 3, f"only {self.calls}"
        return self.calls


async def test_a_predicate_is_polled_until_it_holds() -> None:
    counter = Counter()
    assert await eventually(counter.reaches_three, interval=0) is True
    assert counter.calls == 3


async def test_an_asserting_probe_is_polled_until_it_stops_failing_and_its_value_returned() -> None:
    assert await eventually(Counter().asserts_three, interval=0) == 3


async def test_a_probe_that_never_holds_fails_naming_what_and_the_last_answer_seen() -> None:
    async def never() -> None:
        raise AssertionError("still 2 rows")

    with pytest.raises(
        AssertionError, match=r"the rows: not reached within 0.1s \(last: AssertionError\('still 2 rows'"
    ):
        await eventually(never, within=0.1, interval=0.01, what="the rows")


async def test_a_false_predicate_fails_with_the_probes_name() -> None:
    async def nothing_yet() -> bool:
        return False

    with pytest.raises(AssertionError, match=r"nothing_yet: not reached .*\(last: False\)"):
        await eventually(nothing_yet, within=0.05, interval=0.01)


async def test_an_empty_answer_is_refused_rather_than_taken_for_success() -> None:
    async def rows() -> list[int]:
        return []

    with pytest.raises(TypeError, match="return a bool, or assert"):
        await eventually(rows)


async def test_any_other_error_is_not_retried() -> None:
    counter = Counter()

    async def broken() -> bool:
        counter.calls += 1
        raise RuntimeError("process died")

    with pytest.raises(RuntimeError, match="process died"):
        await eventually(broken)
    assert counter.calls == 1
