"""A JSON Schema check without ``jsonschema``: the few keywords the IR's schemas use.

cnndsl does not depend on ``jsonschema`` at run time. :class:`Validator` walks a schema
dict (:mod:`cnndsl.ir.schema`) with the keywords it uses: type, const, enum, properties,
required, additionalProperties, items, prefixItems, minItems, maxItems, minimum,
minLength, anyOf and local ``$ref``. A document is first tested by a predicate compiled
from the schema (a yes or no, no messages: the fast path for the valid documents that
are nearly all of them), and only a failing one is walked again for the messages.

JSON has no NaN or infinity: a float that is not finite is not a ``number`` here (a
dict handed in from Python may hold one).

>>> v = Validator({"type": "object", "required": ["n"],
...                "properties": {"n": {"type": "integer", "minimum": 1}}})
>>> v.problems({"n": 0}), v.problems({}), v.problems({"n": 2})
(['n: 0 is less than 1'], ['document: missing "n"'], [])
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

Predicate = Callable[[Any], bool]


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and v.__class__ is not bool and (
        not isinstance(v, float) or math.isfinite(v))


_TYPES: dict[str, Predicate] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": _number,
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _kinds(names: list[str]) -> Predicate:
    """The ``type`` keyword as one ``isinstance`` (the predicate runs for every value)."""
    classes = tuple({"boolean": bool, "integer": int, "number": (int, float), "string": str,
                     "array": list, "object": dict, "null": type(None)}[t] for t in names)
    flat = tuple(c for cs in classes for c in (cs if isinstance(cs, tuple) else (cs,)))
    allows_bool = "boolean" in names

    def kind(v: Any) -> bool:
        if not isinstance(v, flat):
            return False
        if v.__class__ is bool:
            return allows_bool
        return v.__class__ is not float or math.isfinite(v)
    return kind


class Validator:
    """A schema (``root``: its ``$defs`` resolve ``$ref``) and its compiled predicate."""

    def __init__(self, root: dict[str, Any]):
        self.root = root
        self._valid = self._predicate(root)

    def problems(self, data: Any, limit: int = 20) -> list[str]:
        """What is wrong with ``data``, as ``where: what`` lines (at most ``limit``);
        empty for a valid document."""
        if self._valid(data):
            return []
        found: list[str] = []
        self._check(data, self.root, "", found, limit)
        return found or ["does not match the schema"]

    def is_valid(self, data: Any) -> bool:
        return self._valid(data)

    # ------------------------------------------------------------ the predicate
    def _resolve(self, s: dict) -> dict:
        return self.root["$defs"][s["$ref"].rsplit("/", 1)[-1]] if "$ref" in s else s

    def _predicate(self, s: dict) -> Predicate:
        """``s`` as a function value -> bool (the keywords of :meth:`_check`, no
        messages)."""
        s = self._resolve(s)
        tests: list[Predicate] = []
        if "anyOf" in s:
            alts = [self._predicate(a) for a in s["anyOf"]]
            tests.append(lambda v: any(a(v) for a in alts))
        if "type" in s:
            tests.append(_kinds([s["type"]] if isinstance(s["type"], str) else s["type"]))
        if "const" in s:
            const = s["const"]
            tests.append(lambda v: type(v) is type(const) and v == const)
        if "enum" in s:
            allowed = [(type(a), a) for a in s["enum"]]
            tests.append(lambda v: (type(v), v) in allowed)
        if "minimum" in s:
            low = s["minimum"]
            tests.append(lambda v: not _number(v) or v >= low)
        if "minLength" in s:
            tests.append(lambda v: not isinstance(v, str) or len(v) >= s["minLength"])
        if "properties" in s or "required" in s or "additionalProperties" in s:
            tests.append(self._fields(s))
        if any(k in s for k in ("items", "prefixItems", "minItems", "maxItems")):
            tests.append(self._items(s))
        if len(tests) == 1:
            return tests[0]

        def every(v: Any) -> bool:
            for t in tests:
                if not t(v):
                    return False
            return True
        return every

    def _fields(self, s: dict) -> Predicate:
        props = {k: self._predicate(p) for k, p in s.get("properties", {}).items()}
        required = tuple(s.get("required", ()))
        extra = s.get("additionalProperties", True)
        other = self._predicate(extra) if isinstance(extra, dict) else (lambda v: extra)

        def fields(v: Any) -> bool:
            if v.__class__ is not dict:
                return True
            for k in required:
                if k not in v:
                    return False
            for k, item in v.items():
                if not props.get(k, other)(item):
                    return False
            return True
        return fields

    def _items(self, s: dict) -> Predicate:
        low, high = s.get("minItems", 0), s.get("maxItems")
        prefix = [self._predicate(p) for p in s.get("prefixItems", ())]
        each = self._predicate(s["items"]) if "items" in s else (lambda v: True)

        def items(v: Any) -> bool:
            if v.__class__ is not list:
                return True
            if len(v) < low or (high is not None and len(v) > high):
                return False
            for i, x in enumerate(v):
                if not (prefix[i] if i < len(prefix) else each)(x):
                    return False
            return True
        return items

    # ------------------------------------------------------------ the messages
    def _check(self, v: Any, s: dict, where: str, found: list[str], limit: int) -> None:
        """``v`` against ``s``, each problem appended to ``found`` as ``where: what``."""
        if len(found) >= limit:
            return
        s = self._resolve(s)
        at = where or "document"

        def bad(what: str) -> None:
            if len(found) < limit:
                found.append(f"{at}: {what}")

        if "anyOf" in s and not any(not self._sub(v, alt) for alt in s["anyOf"]):
            fitting = [alt for alt in s["anyOf"] if self._type_fits(v, alt)]
            if len(fitting) == 1 and "type" in self._resolve(fitting[0]):  # what is wrong in it
                self._check(v, fitting[0], where, found, limit)
            else:
                bad(f"{_shown(v)} is not {s.get('title', 'an allowed value')}")
            return
        types = s.get("type")
        if types is not None:
            names = [types] if isinstance(types, str) else types
            if not any(_TYPES[t](v) for t in names):
                bad(f"expected {' or '.join(names)}, got {_kind(v)}")
                return
        if "const" in s and not (type(v) is type(s["const"]) and v == s["const"]):
            bad(f"expected {json.dumps(s['const'])}, got {_shown(v)}")
        if "enum" in s and (type(v), v) not in [(type(a), a) for a in s["enum"]]:
            bad(f"expected one of {', '.join(json.dumps(a) for a in s['enum'])}, "
                f"got {_shown(v)}")
        if "minimum" in s and _number(v) and v < s["minimum"]:
            bad(f"{_shown(v)} is less than {s['minimum']}")
        if "minLength" in s and isinstance(v, str) and len(v) < s["minLength"]:
            bad("empty")
        if isinstance(v, dict):
            self._check_fields(v, s, where, found, limit, bad)
        if isinstance(v, list):
            if len(v) < s.get("minItems", 0) or len(v) > s.get("maxItems", len(v)):
                bad(f"{len(v)} items")
            prefix = s.get("prefixItems", ())
            for i, item in enumerate(v):
                sub = prefix[i] if i < len(prefix) else s.get("items")
                if sub is not None:
                    self._check(item, sub, f"{where}[{i}]", found, limit)

    def _check_fields(self, v: dict, s: dict, where: str, found: list[str], limit: int,
                      bad: Callable[[str], None]) -> None:
        props = s.get("properties", {})
        for key in s.get("required", ()):
            if key not in v:
                bad(f'missing "{key}"')
        extra = s.get("additionalProperties", True)
        for key, item in v.items():
            if key in props:
                self._check(item, props[key], _join(where, key), found, limit)
            elif extra is False:
                bad(f"unknown field {_shown(key)}")
            elif isinstance(extra, dict):
                self._check(item, extra, _join(where, key), found, limit)

    def _type_fits(self, v: Any, s: dict) -> bool:
        types = self._resolve(s).get("type")
        names = [types] if isinstance(types, str) else types or ()
        return any(_TYPES[t](v) for t in names)

    def _sub(self, v: Any, s: dict) -> list[str]:
        out: list[str] = []
        self._check(v, s, "", out, 1)
        return out


def _join(where: str, key: Any) -> str:
    key = str(key)[:40]
    return f"{where}.{key}" if where else key


def _kind(v: Any) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return f"{v} (JSON has no such number)"
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](v):
            return name
    return type(v).__name__


def _shown(v: Any) -> str:
    """``v`` as JSON, at most 40 characters (a value that is not JSON: its repr)."""
    try:
        text = json.dumps(v, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(v) if not isinstance(v, (dict, list)) else type(v).__name__
    return text if len(text) <= 40 else text[:37] + "..."
