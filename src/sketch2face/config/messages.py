"""Validation errors as users read them: one line per bad key, saying what is allowed instead."""

from __future__ import annotations

import difflib
import inspect
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from sketch2face.config.schema import Params


class ParamsError(ValueError):
    """Raised when `params.yaml` is missing, unparsable or holds invalid values."""


TYPE_REQUIREMENTS = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "path_type": "must be a path",
    "model_type": "must be a mapping of keys (a section)",
    "model_attributes_type": "must be a mapping of keys (a section)",
    "dict_type": "must be a mapping of keys",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
}
RANGE_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})
BOUND_SYMBOLS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
VALUE_ERROR_PREFIX = "Value error, "


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The params section class inside a field's type (`SourceParams` in `tuple[SourceParams, ...]`)."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    return next((model for arg in get_args(annotation) if (model := _model_in(arg))), None)


def _section_at(path: tuple) -> type[BaseModel] | None:
    """The section class that a key path such as ("crop_resize", "sources", 0) leads to."""
    model: type[BaseModel] | None = Params
    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        model = _model_in(field.annotation) if field else None
    return model


def _field_at(location: tuple) -> FieldInfo | None:
    section = _section_at(location[:-1]) if location else None
    return section.model_fields.get(location[-1]) if section and isinstance(location[-1], str) else None


def _bounds(field: FieldInfo | None) -> str:
    """'> 0 and <= 1' from a field's constraints, so a range error states the whole allowed range."""
    limits = [
        f"{symbol} {getattr(item, name)}"
        for item in (field.metadata if field else ())
        for name, symbol in BOUND_SYMBOLS.items()
        if getattr(item, name, None) is not None
    ]
    return " and ".join(limits)


def _unknown_key(location: tuple) -> str:
    section = _section_at(location[:-1])
    allowed = list(section.model_fields) if section else []
    close = difflib.get_close_matches(str(location[-1]), allowed, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown key{hint}; allowed keys: {', '.join(allowed)}"


def _describe(error: dict) -> str:
    """One line per bad key: where it is, what is wrong, and what would be allowed instead."""
    location = tuple(error["loc"])
    name = ".".join(str(part) for part in location) or "(top level)"
    kind = error["type"]
    got = f" (got {error.get('input')!r})"
    if kind == "extra_forbidden":
        return f"{name}: {_unknown_key(location)}"
    if kind == "missing":
        return f"{name}: required key is missing"
    if kind == "literal_error":
        return f"{name}: must be one of {error['ctx']['expected']}{got}"
    if kind in RANGE_ERRORS:
        return f"{name}: out of range, allowed: {_bounds(_field_at(location)) or error['msg']}{got}"
    if kind == "string_pattern_mismatch":
        return f"{name}: must match the pattern {error['ctx']['pattern']}{got}"
    if kind in TYPE_REQUIREMENTS:
        bounds = _bounds(_field_at(location))
        return f"{name}: {TYPE_REQUIREMENTS[kind]}{f' {bounds}' if bounds else ''}{got}"
    if kind == "too_short":
        return f"{name}: must have at least {error['ctx']['min_length']} item(s){got}"
    message = error["msg"].removeprefix(VALUE_ERROR_PREFIX)
    field = _field_at(location)
    is_value = field is not None and _model_in(field.annotation) is None  # a whole section is not echoed
    return f"{name}: {message}{got if is_value else ''}"


def _is_consequence(error: dict, errors: list[dict]) -> bool:
    """A 'list too short' that only says its items failed, which are reported themselves."""
    location = tuple(error["loc"])
    return error["type"] == "too_short" and any(
        tuple(other["loc"])[: len(location)] == location and len(other["loc"]) > len(location) for other in errors
    )


def parse_params(raw: object, origin: str = "params") -> Params:
    """Validates an already-parsed mapping; every problem is listed, not just the first."""
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        problems = [_describe(error) for error in errors if not _is_consequence(error, errors)]
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise ParamsError(f"{origin}: {len(problems)} invalid value(s):\n{listing}") from None
