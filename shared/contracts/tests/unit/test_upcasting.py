from typing import Any

import pytest

from contracts.upcasting import UpcasterConflict, Upcasters, UpcastFailed

V1, V2, V3 = "folio.test.thing.v1", "folio.test.thing.v2", "folio.test.thing.v3"


def rename_name_to_title(data: dict[str, Any]) -> dict[str, Any]:
    data["title"] = data.pop("name")
    return data


def add_language(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "language": "en"}


def test_a_type_without_upcasters_is_returned_as_it_came() -> None:
    data = {"name": "x"}
    assert Upcasters().upcast(V1, data) == (V1, data)


def test_an_upcaster_turns_an_old_version_into_the_new_one() -> None:
    upcasters = Upcasters()
    upcasters.register(V1, V2, rename_name_to_title)
    assert upcasters.upcast(V1, {"name": "x"}) == (V2, {"title": "x"})


def test_the_chain_is_followed_to_the_newest_version() -> None:
    upcasters = Upcasters()
    upcasters.register(V2, V3, add_language)
    upcasters.register(V1, V2, rename_name_to_title)
    assert upcasters.upcast(V1, {"name": "x"}) == (V3, {"title": "x", "language": "en"})
    assert upcasters.upcast(V2, {"title": "y"}) == (V3, {"title": "y", "language": "en"})
    assert upcasters.newest(V1) == V3


def test_the_callers_data_is_left_untouched() -> None:
    upcasters = Upcasters()
    upcasters.register(V1, V2, rename_name_to_title)
    data = {"name": "x", "nested": {"a": 1}}
    upcasters.upcast(V1, data)
    assert data == {"name": "x", "nested": {"a": 1}}


def test_a_second_upcaster_from_the_same_type_is_refused() -> None:
    upcasters = Upcasters()
    upcasters.register(V1, V2, rename_name_to_title)
    with pytest.raises(UpcasterConflict, match="already registered"):
        upcasters.register(V1, V3, add_language)


def test_an_upcaster_that_would_loop_is_refused() -> None:
    upcasters = Upcasters()
    upcasters.register(V1, V2, rename_name_to_title)
    with pytest.raises(UpcasterConflict, match="loop"):
        upcasters.register(V2, V1, add_language)
    with pytest.raises(UpcasterConflict):
        upcasters.register(V3, V3, add_language)


def test_an_upcaster_that_raises_is_reported_as_a_failed_upcast() -> None:
    upcasters = Upcasters()
    upcasters.register(V1, V2, rename_name_to_title)
    with pytest.raises(UpcastFailed, match=r"v1 -> folio\.test\.thing\.v2"):
        upcasters.upcast(V1, {"title": "no name here"})


def test_an_upcaster_must_return_an_object() -> None:
    upcasters = Upcasters()
    upcasters.register(V1, V2, lambda data: [data])  # type: ignore[arg-type, return-value]
    with pytest.raises(UpcastFailed, match="returned list"):
        upcasters.upcast(V1, {})


def test_upcast_failures_are_value_errors_so_consumers_park_them() -> None:
    assert issubclass(UpcastFailed, ValueError)


def test_the_package_ships_no_upcasters_yet() -> None:
    from contracts.upcasting import UPCASTERS

    assert UPCASTERS.upcast("folio.catalog.book-created.v1", {}) == ("folio.catalog.book-created.v1", {})
