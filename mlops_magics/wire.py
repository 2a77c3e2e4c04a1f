"""What crosses the wire is checked here: bodies by strict pydantic models, query numbers by one parser.

Every wire shape is a ``WireModel``: strict (a bool is not an int, "3" is not a number), closed (an unknown
field is refused), frozen, and with finite floats. ``checked`` validates one and turns a ``ValidationError``
into one ``InvalidInput`` line that names each bad field and what it accepts, e.g.
``field `port`: must be a whole number 1-65535 (got true)``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

import annotated_types
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from mlops_magics.errors import InvalidInput

Model = TypeVar("Model", bound="WireModel")
# How a field is named in a message: on the wire "field `port`: ", on a command line "--port ".
Label = Callable[[str], str]


def field_label(name: str) -> str:
    return f"field `{name}`: "


class WireModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _whole_numbers(cls, data: object) -> object:
        # JSON has one kind of number: 2.0 is the integer 2 (as JSON Schema says). 2.5, true and "2" are not.
        if not isinstance(data, dict):
            return data
        whole = {name for name, field in cls.model_fields.items() if field.annotation is int}
        return {
            key: int(value) if key in whole and isinstance(value, float) and value.is_integer() else value
            for key, value in data.items()
        }

    @classmethod
    def checked(cls: type[Model], data: object, label: Label = field_label) -> Model:
        """The model ``data`` describes, or InvalidInput naming every bad field in one line."""
        if not isinstance(data, dict):
            raise InvalidInput(f"the {cls.noun()} must be a JSON object (got {shown(data)})")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidInput("; ".join(_line(cls, error, label) for error in exc.errors())) from None

    @classmethod
    def from_dict(cls: type[Model], data: object) -> Model:
        """The model from the wire (a REST body, a stored record); a shape with rules beyond its fields adds them."""
        return cls.checked(data)

    @classmethod
    def noun(cls) -> str:
        """How a message names this shape ("deployment spec"); the class name split into words by default."""
        return re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def utf8_text(body: object) -> None:
    """Refuse a body with text no file, log or process can hold: JSON may carry lone surrogates (``"\\ud800"``),
    UTF-8 cannot, and each place that writes the text would fail on its own, later."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("the request body holds text that is not UTF-8 (a lone surrogate)") from None
    except (TypeError, ValueError):
        return  # not JSON-shaped (a model instance, NaN): the model's own checks answer


def whole_number(value: object, what: str, minimum: int) -> int:
    """A count typed on a command line (text) or sent as a JSON integer; never a bool or a float."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidInput(f"{what} must be a whole number >= {minimum} (got {value!r})")
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"{what} must be a whole number >= {minimum} (got {value!r})") from None
    if number < minimum:
        raise InvalidInput(f"{what} must be a whole number >= {minimum} (got {number})")
    return number


def shown(value: object) -> str:
    """A value as the sender wrote it (JSON), short: ``true``, ``"x"``, ``NaN``, ``1e+400`` becomes ``Infinity``."""
    try:
        text = json.dumps(value, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _bounds(model: type[BaseModel], name: str) -> tuple[float | None, float | None]:
    field = model.model_fields.get(name)
    low = high = None
    for rule in field.metadata if field is not None else ():
        if isinstance(rule, annotated_types.Ge):
            low = rule.ge
        elif isinstance(rule, annotated_types.Le):
            high = rule.le
    return low, high


def _span(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low}-{high}"
    if low is not None:
        return f">= {low}"
    return f"<= {high}" if high is not None else ""


def _what(model: type[BaseModel], name: str, error: dict[str, Any]) -> str:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    got = f"(got {shown(value)})"
    span = _span(*_bounds(model, name))
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number {span} {got}".replace("  ", " ")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        whole = isinstance(value, int)
        if span.startswith((">", "<")):
            return f"must be a {'whole ' if whole else ''}number {span} {got}"
        return f"must be {span} {got}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number {span} {got}".replace("  ", " ")
    if kind == "finite_number":
        return f"must be a finite number {got}"
    if kind == "bool_type":
        return f"must be true or false {got}"
    if kind == "string_type":
        return f"must be a string {got}"
    if kind in ("dict_type", "model_type"):
        return f"must be a JSON object {got}"
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected')} {got}"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return f"is not a known field; accepted: {', '.join(model.model_fields)}"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return f"{error['msg'][0].lower()}{error['msg'][1:]} {got}"


def _line(model: type[BaseModel], error: dict[str, Any], label: Label) -> str:
    loc = [str(part) for part in error["loc"]]
    if not loc:  # a rule over the whole shape (a model validator) speaks for itself
        return _what(model, "", error)
    return f"{label(loc[0])}{'.'.join(loc[1:]) + ' ' if loc[1:] else ''}{_what(model, loc[0], error)}"


def finite_json(value: object, where: str) -> object:
    """Refuse NaN and infinities anywhere inside a free-form JSON value (they cannot be sent on as JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} holds {shown(value)}; numbers must be finite")
    if isinstance(value, dict):
        for key, item in value.items():
            finite_json(item, f"{where}.{key}")
    elif isinstance(value, list):
        for item in value:
            finite_json(item, where)
    return value


LOG_LINES = (1, 10_000)
_DIGITS = re.compile(r"^[0-9]{1,6}$")


def log_lines(value: object) -> int:
    """The ``lines`` of a log tail: a whole number 1-10000, from a query string or a caller's int."""
    low, high = LOG_LINES
    if isinstance(value, str) and _DIGITS.match(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"lines must be a whole number {low}-{high} (got {shown(value)})")
    return value


class View(BaseModel):
    """What a route answers: every field the code sends is declared (an undeclared one fails the tests that
    check answers against their model), values as the core gives them (no strict types: a view is produced by
    code, not typed by a person)."""

    model_config = ConfigDict(extra="forbid")
