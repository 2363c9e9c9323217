"""Ground floor: the generic, annotation-driven checker of frozen config dataclasses.

:func:`validate_fields` checks every field of a dataclass value against its type annotation (and
normalises list -> tuple, int -> float, dict -> nested dataclass); :func:`parse_value` parses a
command-line string by an annotation; :func:`dataclass_from_dict` builds a dataclass from JSON-like data.
Model configs (``qdm.models``) and experiment configs (``qdm.config``) both use it, so it sits below both.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from typing import Any, Literal

__all__ = ["dataclass_from_dict", "describe_annotation", "parse_value", "type_hints", "validate_fields"]

_NONE_WORDS = ("none", "null")
_TRUE_WORDS = ("true", "1", "yes", "on")
_FALSE_WORDS = ("false", "0", "no", "off")


def _type_hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of a dataclass type (works with ``from __future__ import annotations``)."""
    return typing.get_type_hints(cls)


def _describe(annotation: Any) -> str:
    """A short human description of an annotation, for error messages."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "None"
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a tuple of ({_describe(args[0])})"
        return "a tuple (" + ", ".join(_describe(a) for a in args) + ")"
    return getattr(annotation, "__name__", str(annotation))


def _coerce(annotation: Any, value: Any, where: str) -> Any:
    """Check ``value`` against ``annotation`` and normalise it (list -> tuple, int -> float, dict -> dataclass)."""
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if annotation is type(None):
        if value is None:
            return None
        raise ValueError(f"{where} must be None, got {value!r}")
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None:
            if type(None) in args:
                return None
            raise ValueError(f"{where} must be {_describe(annotation)}, got None")
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError(f"{where} must be {_describe(annotation)}, got {value!r}")
    if origin is Literal:
        allowed = typing.get_args(annotation)
        for a in allowed:
            if value == a and type(value) is type(a):
                return a
        raise ValueError(f"{where} must be {_describe(annotation)}, got {value!r}")
    if origin is tuple or annotation is tuple:
        if not isinstance(value, (tuple, list)):
            raise ValueError(f"{where} must be {_describe(annotation)}, got {value!r}")
        args = typing.get_args(annotation)
        if not args:
            return tuple(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ValueError(f"{where} must be {_describe(annotation)} of length {len(args)}, got {value!r}")
        return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin is list:
        if not isinstance(value, (tuple, list)):
            raise ValueError(f"{where} must be a list, got {value!r}")
        (arg,) = typing.get_args(annotation) or (Any,)
        return [_coerce(arg, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be a dict, got {value!r}")
        return dict(value)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{where} must be a bool, got {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"{where} must be an int, got {value!r}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ValueError(f"{where} must be a float, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"{where} must be a str, got {value!r}")
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        if isinstance(value, dict):
            return _dataclass_from_dict(annotation, value, where)
        raise ValueError(f"{where} must be a {annotation.__name__}, got {value!r}")
    if isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
        raise ValueError(f"{where} must be a {annotation.__name__}, got {value!r}")
    return value


def validate_fields(obj: Any) -> None:
    """Check every field of a frozen dataclass against its annotation, normalising in place (list -> tuple, int -> float)."""
    cls = type(obj)
    hints = _type_hints(cls)
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        normalised = _coerce(hints[f.name], value, f"{cls.__name__}.{f.name}")
        if normalised is not value:
            object.__setattr__(obj, f.name, normalised)


def _dataclass_from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from a JSON-like dict, coercing each value by its annotation."""
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown} for {cls.__name__}; valid keys: {', '.join(names)}")
    hints = _type_hints(cls)
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def parse_value(annotation: Any, raw: str, where: str = "value") -> Any:
    """Parse a command-line string into a value of type ``annotation`` (int, float, bool, str, tuple, Literal, Optional)."""
    text = raw.strip()
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if type(None) in args and text.lower() in _NONE_WORDS:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return parse_value(arg, text, where)
            except ValueError:
                continue
        raise ValueError(f"{where} must be {_describe(annotation)}, got {raw!r}")
    if annotation is type(None):
        if text.lower() in _NONE_WORDS:
            return None
        raise ValueError(f"{where} must be None, got {raw!r}")
    if origin is Literal:
        for a in typing.get_args(annotation):
            try:
                if parse_value(type(a), text, where) == a:
                    return a
            except ValueError:
                continue
        raise ValueError(f"{where} must be {_describe(annotation)}, got {raw!r}")
    if origin is tuple or origin is list or annotation is tuple:
        inner = text
        if len(inner) >= 2 and inner[0] + inner[-1] in ("()", "[]"):
            inner = inner[1:-1]
        parts = [p for p in (s.strip() for s in inner.split(",")) if p != ""]
        args = typing.get_args(annotation)
        if not args:
            items: list[Any] = parts
        elif len(args) == 2 and args[1] is Ellipsis or origin is list:
            items = [parse_value(args[0], p, f"{where}[{i}]") for i, p in enumerate(parts)]
        else:
            if len(parts) != len(args):
                raise ValueError(f"{where} must be {_describe(annotation)}, got {raw!r}")
            items = [parse_value(a, p, f"{where}[{i}]") for i, (a, p) in enumerate(zip(args, parts, strict=True))]
        return items if origin is list else tuple(items)
    if annotation is bool:
        if text.lower() in _TRUE_WORDS:
            return True
        if text.lower() in _FALSE_WORDS:
            return False
        raise ValueError(f"{where} must be a bool (true/false), got {raw!r}")
    if annotation is int:
        try:
            return int(text.replace("_", ""))
        except ValueError:
            pass
        try:
            as_float = float(text)
        except ValueError:
            as_float = math.nan
        if math.isfinite(as_float) and as_float.is_integer():
            return int(as_float)
        raise ValueError(f"{where} must be an int, got {raw!r}")
    if annotation is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{where} must be a float, got {raw!r}") from None
    if annotation is str:
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return text[1:-1]
        return text
    if origin is dict or annotation is dict:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f"{where} must be a JSON object, got {raw!r}") from None
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be a JSON object, got {raw!r}")
        return value
    raise ValueError(f"{where} has type {_describe(annotation)}, which cannot be set from the command line")



#: Public names of the helpers above.
type_hints = _type_hints
describe_annotation = _describe
dataclass_from_dict = _dataclass_from_dict
