"""Is the current model still compatible with the schema published for its type?

During a rolling deploy both directions matter: a new consumer must accept what old producers published
(and what waits in queues or parking), and an old consumer must accept what new producers send. Consumers are
tolerant readers, so an added optional property is fine. Everything else that changes the set of valid
values is reported:

- ``removed``: a published property is gone;
- ``type-changed``: a property's JSON type or format differs (also inside ``$defs``, array items and unions);
- ``newly-required``: a property became required (old messages lack it);
- ``enum-narrowed`` / ``enum-widened``: an enum or Literal lost values (old messages fail) or gained some
  (old consumers fail);
- ``constraint-changed``: a length, range, pattern or item-count constraint differs.

Titles, descriptions, defaults, examples, ``x-`` keys and ``additionalProperties: false`` are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contracts.base import Message

Schema = dict[str, Any]
Resolver = Callable[[Schema], Schema]

CONSTRAINTS = (
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
)
_UNIONS = ("anyOf", "oneOf")


@dataclass(frozen=True, slots=True)
class Incompatibility:
    path: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.rule}: {self.detail}"


def compare(published: Schema, current: Schema) -> list[Incompatibility]:
    """Every incompatibility between a published schema and the current one (empty when compatible)."""
    return list(_Comparison(published, current).walk(published, current, ""))


def check_published(
    models: Iterable[type[Message]], published: dict[str, Schema]
) -> dict[str, list[Incompatibility]]:
    """Compare each published schema with its current model; a published type without a model is removed."""
    from contracts.schemas import schema_for

    by_type = {model.TYPE: model for model in models}
    report: dict[str, list[Incompatibility]] = {}
    for message_type, schema in sorted(published.items()):
        model = by_type.get(message_type)
        if model is None:
            report[message_type] = [Incompatibility("", "removed", "no model for this published type")]
            continue
        problems = compare(schema, schema_for(model))
        if problems:
            report[message_type] = problems
    return report


def check_directory(
    models: Iterable[type[Message]], directory: Path | None = None
) -> dict[str, list[Incompatibility]]:
    from contracts.schemas import SCHEMA_DIR, load_published

    return check_published(models, load_published(directory or SCHEMA_DIR))


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self._old_root = old_root
        self._new_root = new_root
        # Pairs of $refs being compared further up the stack: recursive models must not recurse forever.
        self._active: set[tuple[str, str]] = set()

    def walk(self, old: Schema, new: Schema, path: str) -> Iterator[Incompatibility]:
        refs = (old.get("$ref"), new.get("$ref"))
        if refs[0] is not None and refs[1] is not None:
            pair = (str(refs[0]), str(refs[1]))
            if pair in self._active:
                return
            self._active.add(pair)
            try:
                yield from self._walk_resolved(self._old(old), self._new(new), path)
            finally:
                self._active.discard(pair)
        else:
            yield from self._walk_resolved(self._old(old), self._new(new), path)

    def _walk_resolved(self, old: Schema, new: Schema, path: str) -> Iterator[Incompatibility]:
        old_kinds, new_kinds = self._kinds(old, self._old), self._kinds(new, self._new)
        if old_kinds != new_kinds:
            yield Incompatibility(path, "type-changed", f"{_show(old_kinds)} -> {_show(new_kinds)}")
            return
        yield from self._enum(old, new, path)
        old_variants, new_variants = self._variants(old, self._old), self._variants(new, self._new)
        if len(old_variants) > 1 or len(new_variants) > 1:
            yield from self._union(old_variants, new_variants, path)
            return
        for key in CONSTRAINTS:
            if old.get(key) != new.get(key):
                yield Incompatibility(
                    path, "constraint-changed", f"{key} {old.get(key)!r} -> {new.get(key)!r}"
                )
        if "object" in old_kinds:
            yield from self._object(old, new, path)
        if "array" in old_kinds:
            yield from self._array(old, new, path)

    def _union(
        self, old_variants: list[Schema], new_variants: list[Schema], path: str
    ) -> Iterator[Incompatibility]:
        # Variants are matched by what they are (their kinds), not by position.
        unmatched = list(new_variants)
        for old in old_variants:
            kinds = self._kinds(old, self._old)
            match = next((new for new in unmatched if self._kinds(new, self._new) == kinds), None)
            if match is None:
                yield Incompatibility(path, "type-changed", f"the {_show(kinds)} alternative is gone")
                continue
            unmatched.remove(match)
            yield from self.walk(old, match, path)
        for new in unmatched:
            yield Incompatibility(
                path, "type-changed", f"new alternative {_show(self._kinds(new, self._new))}"
            )

    def _object(self, old: Schema, new: Schema, path: str) -> Iterator[Incompatibility]:
        old_props: Schema = old.get("properties", {})
        new_props: Schema = new.get("properties", {})
        for name, old_prop in old_props.items():
            if name not in new_props:
                yield Incompatibility(_join(path, name), "removed", "property removed")
            else:
                yield from self.walk(old_prop, new_props[name], _join(path, name))
        old_required = set(old.get("required", ()))
        for name in new.get("required", ()):
            if name not in old_required:
                yield Incompatibility(_join(path, name), "newly-required", "property is now required")
        old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):
            yield from self.walk(old_extra, new_extra, _join(path, "*"))
        elif isinstance(old_extra, dict) != isinstance(new_extra, dict):
            yield Incompatibility(_join(path, "*"), "type-changed", "map values changed")

    def _array(self, old: Schema, new: Schema, path: str) -> Iterator[Incompatibility]:
        old_items, new_items = old.get("items"), new.get("items")
        if isinstance(old_items, dict) and isinstance(new_items, dict):
            yield from self.walk(old_items, new_items, f"{path}[]")
        elif isinstance(old_items, dict) != isinstance(new_items, dict):
            yield Incompatibility(f"{path}[]", "type-changed", "array items changed")
        old_prefix: list[Schema] = old.get("prefixItems", [])
        new_prefix: list[Schema] = new.get("prefixItems", [])
        if len(old_prefix) != len(new_prefix):
            yield Incompatibility(
                path, "type-changed", f"tuple of {len(old_prefix)} -> {len(new_prefix)} items"
            )
            return
        for index, (old_item, new_item) in enumerate(zip(old_prefix, new_prefix, strict=True)):
            yield from self.walk(old_item, new_item, f"{path}[{index}]")

    def _enum(self, old: Schema, new: Schema, path: str) -> Iterator[Incompatibility]:
        old_values, new_values = self._values(old, self._old), self._values(new, self._new)
        if old_values == new_values:
            return
        if new_values is not None and (old_values is None or not old_values <= new_values):
            lost = "any value" if old_values is None else _show(old_values - new_values)
            yield Incompatibility(path, "enum-narrowed", f"no longer accepts {lost}")
        if old_values is not None and (new_values is None or not new_values <= old_values):
            gained = "any value" if new_values is None else _show(new_values - old_values)
            yield Incompatibility(path, "enum-widened", f"now also accepts {gained}")

    # -- reading schemas -------------------------------------------------------------------------------

    def _old(self, node: Schema) -> Schema:
        return _resolve(node, self._old_root)

    def _new(self, node: Schema) -> Schema:
        return _resolve(node, self._new_root)

    def _variants(self, node: Schema, resolve: Resolver) -> list[Schema]:
        for key in _UNIONS:
            if key in node:
                return [v for variant in node[key] for v in self._variants(resolve(variant), resolve)]
        return [node]

    def _kinds(self, node: Schema, resolve: Resolver) -> frozenset[str]:
        variants = self._variants(node, resolve)
        if len(variants) > 1:
            return frozenset().union(*(self._kinds(v, resolve) for v in variants))
        node = variants[0]
        declared = node.get("type")
        if declared is None:
            if "const" in node:
                return frozenset({_json_type(node["const"])})
            if "enum" in node:
                return frozenset(_json_type(value) for value in node["enum"])
            return frozenset({"any"})
        types = [declared] if isinstance(declared, str) else list(declared)
        fmt = node.get("format")
        return frozenset(f"{t}:{fmt}" if fmt and t == "string" else t for t in types)

    def _values(self, node: Schema, resolve: Resolver) -> frozenset[Any] | None:
        """The finite set of accepted values, or None when the node is not an enumeration."""
        values: set[Any] = set()
        for variant in self._variants(node, resolve):
            if "const" in variant:
                values.add(_hashable(variant["const"]))
            elif "enum" in variant:
                values.update(_hashable(value) for value in variant["enum"])
            elif variant.get("type") == "null":
                values.add(None)
            else:
                return None
        return frozenset(values)


def _resolve(node: Schema, root: Schema) -> Schema:
    seen: set[str] = set()
    while "$ref" in node:
        ref = str(node["$ref"])
        if ref in seen or not ref.startswith("#/"):
            raise ValueError(f"cannot resolve $ref {ref!r}")
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    # A single-element allOf is how some generators attach a description to a $ref.
    if set(node) & {"allOf"} and len(node["allOf"]) == 1:
        return _resolve(node["allOf"][0], root)
    return node


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, list | dict) else value


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _show(values: Iterable[Any]) -> str:
    return "|".join(sorted(str(v) for v in values)) or "nothing"
