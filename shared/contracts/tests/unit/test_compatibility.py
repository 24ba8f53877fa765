from typing import Any, ClassVar, Literal

import pytest

from contracts.base import Event
from contracts.compatibility import Incompatibility, check_directory, check_published, compare
from contracts.registry import ALL_MESSAGES
from contracts.schemas import load_published, schema_for

Schema = dict[str, Any]


def obj(required: tuple[str, ...] = (), defs: Schema | None = None, **props: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": props, "required": list(required)}
    if defs:
        schema["$defs"] = defs
    return schema


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
UUID_: Schema = {"type": "string", "format": "uuid"}
NULLABLE_STR: Schema = {"anyOf": [STR, {"type": "null"}], "default": None}
MONEY = obj(("amount",), amount=STR, currency=STR)
REASONS: Schema = {"enum": ["a", "b"], "type": "string"}


def rules(published: Schema, current: Schema) -> list[tuple[str, str]]:
    return [(problem.path, problem.rule) for problem in compare(published, current)]


def test_an_identical_schema_is_compatible() -> None:
    schema = obj(("id",), id=UUID_, note=NULLABLE_STR)
    assert compare(schema, schema) == []


def test_adding_an_optional_property_is_compatible() -> None:
    assert rules(obj(("id",), id=UUID_), obj(("id",), id=UUID_, note=NULLABLE_STR)) == []


def test_titles_descriptions_defaults_and_extensions_do_not_matter() -> None:
    published = obj(("id",), id={**UUID_, "title": "Id"})
    current = obj(("id",), id={**UUID_, "title": "Identifier", "description": "new", "x-doc": 1})
    current["additionalProperties"] = False
    assert rules(published, current) == []


def test_removing_a_property_is_incompatible() -> None:
    assert rules(obj(("id",), id=UUID_, note=STR), obj(("id",), id=UUID_)) == [("note", "removed")]


def test_changing_a_property_type_is_incompatible() -> None:
    assert rules(obj(quantity=INT), obj(quantity=STR)) == [("quantity", "type-changed")]


def test_changing_a_string_format_is_a_type_change() -> None:
    assert rules(obj(id=UUID_), obj(id=STR)) == [("id", "type-changed")]


def test_making_a_property_nullable_is_a_type_change() -> None:
    assert rules(obj(note=STR), obj(note=NULLABLE_STR)) == [("note", "type-changed")]
    assert rules(obj(note=NULLABLE_STR), obj(note=STR)) == [("note", "type-changed")]


def test_a_type_change_inside_a_referenced_definition_is_found() -> None:
    published = obj(total={"$ref": "#/$defs/Money"}, defs={"Money": MONEY})
    current = obj(total={"$ref": "#/$defs/Money"}, defs={"Money": obj(("amount",), amount=INT, currency=STR)})
    assert rules(published, current) == [("total.amount", "type-changed")]


def test_renaming_a_definition_with_the_same_shape_is_compatible() -> None:
    published = obj(total={"$ref": "#/$defs/Money"}, defs={"Money": MONEY})
    current = obj(total={"$ref": "#/$defs/Price"}, defs={"Price": MONEY})
    assert rules(published, current) == []


def test_a_type_change_inside_array_items_is_found() -> None:
    line = obj(("book_id",), book_id=UUID_, unit_price={"$ref": "#/$defs/Money"})
    published = obj(
        lines={"type": "array", "items": {"$ref": "#/$defs/Line"}}, defs={"Line": line, "Money": MONEY}
    )
    changed_line = obj(("book_id",), book_id=INT, unit_price={"$ref": "#/$defs/Money"})
    changed_money = obj(("amount",), amount={"type": "number"}, currency=STR)
    current = obj(
        lines={"type": "array", "items": {"$ref": "#/$defs/Line"}},
        defs={"Line": changed_line, "Money": changed_money},
    )
    assert rules(published, current) == [
        ("lines[].book_id", "type-changed"),
        ("lines[].unit_price.amount", "type-changed"),
    ]


def test_an_array_item_type_change_is_incompatible_but_same_items_are_fine() -> None:
    assert rules(obj(ids={"type": "array", "items": UUID_}), obj(ids={"type": "array", "items": INT})) == [
        ("ids[]", "type-changed")
    ]
    assert rules(obj(ids={"type": "array", "items": UUID_}), obj(ids={"type": "array", "items": UUID_})) == []


def test_a_list_becoming_a_single_value_is_a_type_change() -> None:
    assert rules(obj(ids={"type": "array", "items": UUID_}), obj(ids=UUID_)) == [("ids", "type-changed")]


def test_a_new_required_property_is_incompatible() -> None:
    assert rules(obj(("id",), id=UUID_), obj(("id", "note"), id=UUID_, note=STR)) == [
        ("note", "newly-required")
    ]


def test_an_optional_property_becoming_required_is_incompatible() -> None:
    assert rules(obj(("id",), id=UUID_, note=STR), obj(("id", "note"), id=UUID_, note=STR)) == [
        ("note", "newly-required")
    ]


def test_a_required_property_inside_a_nested_model_is_found() -> None:
    published = obj(total={"$ref": "#/$defs/Money"}, defs={"Money": MONEY})
    current = obj(
        total={"$ref": "#/$defs/Money"}, defs={"Money": obj(("amount", "currency"), amount=STR, currency=STR)}
    )
    assert rules(published, current) == [("total.currency", "newly-required")]


def test_narrowing_an_enum_is_incompatible() -> None:
    assert rules(obj(reason=REASONS), obj(reason={"enum": ["a"], "type": "string"})) == [
        ("reason", "enum-narrowed")
    ]


def test_widening_an_enum_is_incompatible_for_older_consumers() -> None:
    widened = {"enum": ["a", "b", "c"], "type": "string"}
    assert rules(obj(reason=REASONS), obj(reason=widened)) == [("reason", "enum-widened")]


def test_reordering_an_enum_is_compatible() -> None:
    assert rules(obj(reason=REASONS), obj(reason={"enum": ["b", "a"], "type": "string"})) == []


def test_an_enum_replacing_free_text_narrows_it() -> None:
    assert rules(obj(reason=STR), obj(reason=REASONS)) == [("reason", "enum-narrowed")]


def test_a_const_is_an_enum_of_one() -> None:
    assert rules(obj(kind={"const": "a", "type": "string"}), obj(kind=REASONS)) == [("kind", "enum-widened")]
    assert (
        rules(obj(kind={"const": "a", "type": "string"}), obj(kind={"enum": ["a"], "type": "string"})) == []
    )


def test_changing_a_constraint_is_incompatible() -> None:
    assert rules(obj(comment={**STR, "maxLength": 2000}), obj(comment={**STR, "maxLength": 1000})) == [
        ("comment", "constraint-changed")
    ]
    assert rules(obj(stars={**INT, "minimum": 1}), obj(stars=INT)) == [("stars", "constraint-changed")]


def test_a_constraint_inside_a_nullable_property_is_compared() -> None:
    published = obj(comment={"anyOf": [{**STR, "maxLength": 2000}, {"type": "null"}]})
    same = obj(comment={"anyOf": [{"type": "null"}, {**STR, "maxLength": 2000}]})
    changed = obj(comment={"anyOf": [{**STR, "maxLength": 10}, {"type": "null"}]})
    assert rules(published, same) == []
    assert rules(published, changed) == [("comment", "constraint-changed")]


def test_recursive_definitions_are_compared_without_looping() -> None:
    node = obj(("name",), name=STR, children={"type": "array", "items": {"$ref": "#/$defs/Node"}})
    published = {"$ref": "#/$defs/Node", "$defs": {"Node": node}}
    assert compare(published, published) == []


def test_an_incompatibility_reads_as_path_rule_and_detail() -> None:
    assert str(Incompatibility("lines[].quantity", "removed", "property removed")) == (
        "lines[].quantity: removed: property removed"
    )


class Reason(Event):
    TYPE: ClassVar[str] = "folio.catalog.reason.v1"
    OWNER: ClassVar[str] = "catalog"
    SUBJECT: ClassVar[str] = "reason"

    reason: Literal["unknown_book", "out_of_stock"]


class NarrowerReason(Event):
    TYPE: ClassVar[str] = "folio.catalog.reason.v1"
    OWNER: ClassVar[str] = "catalog"
    SUBJECT: ClassVar[str] = "reason"

    reason: Literal["unknown_book"]


def test_a_narrowed_literal_on_a_real_model_is_found() -> None:
    assert rules(schema_for(Reason), schema_for(NarrowerReason)) == [("reason", "enum-narrowed")]


def test_a_published_type_without_a_model_is_reported_as_removed() -> None:
    report = check_published([], {"folio.catalog.reason.v1": schema_for(Reason)})
    assert [(p.path, p.rule) for p in report["folio.catalog.reason.v1"]] == [("", "removed")]


def test_every_published_schema_is_compatible_with_its_current_model() -> None:
    report = check_directory(ALL_MESSAGES)
    assert report == {}, "\n".join(f"{t}: {p}" for t, problems in report.items() for p in problems)


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda m: m.TYPE)
def test_every_model_has_a_published_schema(model: type[Event]) -> None:
    assert model.TYPE in load_published()
