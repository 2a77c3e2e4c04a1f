"""A job's parameters, as papermill has them: the cell tagged ``parameters`` declares them with its defaults, a
given value is typed by its default, and the values are injected in an ``injected-parameters`` cell right after it
(papermill's own code writes that cell), so a notebook made for papermill runs unchanged.

Values come as JSON (a REST body) or as text (``--param region=eu-west`` on a command line): text is read by the
default's type, so a string needs no quotes. Every problem with the given values is named in one line.

Nothing heavy is imported here: papermill (0.5 s) and nbformat (2 s, its JSON-schema validator) load in ``inject``.
"""

from __future__ import annotations

import ast
import copy
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_magics.errors import InvalidInput
from mlops_magics.wire import shown

if TYPE_CHECKING:
    from nbformat import NotebookNode

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"

# The type a default gives its parameter. "none" (default None) and "any" (a default that is not a literal, e.g.
# ``np.arange(3)``, or a literal JSON cannot carry, e.g. a tuple) take any JSON value.
KINDS = ("int", "float", "bool", "str", "list", "dict", "none", "any")
_KIND_OF = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict", type(None): "none"}

# What a value of each kind must be, as a message says it.
_NOUN = {
    "int": "a whole number",
    "float": "a finite number",
    "bool": "true or false",
    "str": "a string",
    "list": "a JSON list",
    "dict": "a JSON object",
    "none": "a JSON value with finite numbers",
    "any": "a JSON value with finite numbers",
}
_TEXT_NOUN = {**_NOUN, "bool": "true/false, yes/no or 1/0", "list": "a JSON list ([...])", "dict": "a JSON object ({...})"}
_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_INTEGER = re.compile(r"^[+-]?[0-9]+$")


@dataclass(frozen=True)
class Declared:
    """One parameter the notebook declares: its name, its kind (one of ``KINDS``), its default as a value (None
    for kind "any" when the default is not a literal) and as the notebook writes it."""

    name: str
    kind: str
    default: object
    text: str


def declared(notebook: NotebookNode) -> dict[str, Declared]:
    """The parameters the notebook's first cell tagged ``parameters`` declares, in its order: each top-level
    ``name = value`` (or ``name: type = value``). A notebook without that cell declares none. InvalidInput when
    the cell is not Python."""
    cell = _parameters_cell(notebook)
    if cell is None or cell.get("cell_type") != "code":
        return {}
    source = _source(cell)
    try:
        tree = ast.parse(_without_magics(source))
    except SyntaxError as exc:
        raise InvalidInput(f"the notebook's `parameters` cell is not Python (line {exc.lineno}: {exc.msg})") from None
    found: dict[str, Declared] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        text = ast.get_source_segment(source, value) or ast.unparse(value)
        for target in targets:  # ``a = b = 1`` declares both; ``a, b = 1, 2`` and ``x.y = 1`` declare nothing
            if isinstance(target, ast.Name):  # assigned twice: the last value is the default, as Python runs it
                found[target.id] = _declared(target.id, value, text)
    return found


def typed(declared: Mapping[str, Declared], given: Mapping[str, object], *, from_text: bool = False) -> dict[str, object]:
    """``given`` checked against what the notebook declares and typed by each default: from JSON (a bool is not
    an int, "3" is not a number, numbers are finite) or, with ``from_text``, from text typed on a command line (a
    string as is, a number parsed, true/false/yes/no/1/0, JSON for a list or an object). InvalidInput names every
    unknown or badly typed parameter in one line."""
    problems: list[str] = []
    values: dict[str, object] = {}
    for name, value in given.items():
        parameter = declared.get(name) if isinstance(name, str) else None
        if parameter is None:
            problems.append(_unknown(name, declared))
            continue
        try:
            if from_text and isinstance(value, str):
                values[name] = _from_text(parameter.kind, value)
            else:
                values[name] = _from_json(parameter.kind, value)
        except ValueError:
            problems.append(_wrong(parameter, value, from_text and isinstance(value, str)))
    if problems:
        raise InvalidInput("; ".join(problems))
    return values


def inject(notebook: NotebookNode, parameters: Mapping[str, object], kernel_name: str | None = None) -> NotebookNode:
    """A copy of the notebook with ``parameters`` in an ``injected-parameters`` cell after the ``parameters`` cell
    (first when there is none; an injected cell already there is replaced), written by papermill's own
    ``parameterize_notebook`` and with the metadata papermill's loader adds, so the result is the notebook
    ``papermill.execute_notebook(..., prepare_only=True)`` makes. No parameters: the copy as papermill leaves it."""
    import nbformat
    from papermill.parameterize import parameterize_notebook

    nb = nbformat.from_dict(copy.deepcopy(notebook))
    nb = nbformat.v4.upgrade(nb) or nb
    _papermill_metadata(nb)
    if not parameters:
        return nb
    kernel = kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    language = nb.metadata.get("language_info", {}).get("name") or nb.metadata.get("kernelspec", {}).get("language")
    return parameterize_notebook(nb, dict(parameters), kernel_name=kernel, language=language or "python")


def describe(declared: Mapping[str, Declared]) -> str:
    """One line for a face: ``alpha: float = 0.5, region: str = 'eu'``."""
    if not declared:
        return "no parameters"
    return ", ".join(_described(parameter) for parameter in declared.values())


def _papermill_metadata(nb: NotebookNode) -> None:
    """What papermill's loader (``papermill.iorw.load_notebook_node``) adds to a notebook it reads: its metadata
    block (tools that read papermill's outputs look there) and ``tags``/``papermill`` on every cell (its code reads
    them as attributes)."""
    from papermill import __version__ as papermill_version

    if "papermill" not in nb.metadata:
        block = {"default_parameters": {}, "parameters": {}, "environment_variables": {}, "version": papermill_version}
        nb.metadata["papermill"] = block
    for cell in nb.cells:
        if "tags" not in cell.metadata:
            cell.metadata["tags"] = []
        if "papermill" not in cell.metadata:
            cell.metadata["papermill"] = {}


def _parameters_cell(notebook: NotebookNode) -> Mapping[str, object] | None:
    for cell in notebook.get("cells", []):
        if PARAMETERS_TAG in (cell.get("metadata", {}).get("tags") or []):
            return cell
    return None


def _source(cell: Mapping[str, object]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _without_magics(source: str) -> str:
    """IPython's ``%magic`` and ``!shell`` lines blanked (not removed: line numbers stay right)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


def _declared(name: str, value: ast.expr, text: str) -> Declared:
    try:
        default = ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return Declared(name, "any", None, text)
    return Declared(name, _KIND_OF.get(type(default), "any"), default, text)


def _from_json(kind: str, value: object) -> object:
    """The value as the notebook will get it; ValueError when it is not of the kind."""
    _json(value)
    if kind == "int":
        if isinstance(value, float) and value.is_integer():  # JSON has one kind of number: 2.0 is the integer 2
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(kind)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(kind)
        return _finite(float(value))
    wanted = {"bool": bool, "str": str, "list": list, "dict": dict}.get(kind)
    if wanted is not None and not isinstance(value, wanted):
        raise ValueError(kind)
    return value


def _from_text(kind: str, text: str) -> object:
    if kind == "str":
        return text
    if kind == "int":
        if not _INTEGER.match(text.strip()):
            raise ValueError(kind)
        return int(text.strip())
    if kind == "float":
        return _finite(float(text.strip()))
    if kind == "bool":
        word = text.strip().lower()
        if word not in _WORDS:
            raise ValueError(kind)
        return _WORDS[word]
    if kind in ("list", "dict"):
        value = _parsed(text)
        if not isinstance(value, list if kind == "list" else dict):
            raise ValueError(kind)
        return value
    try:  # none, any: JSON when the text is JSON, else the text itself
        return _parsed(text)
    except ValueError:
        return text


def _parsed(text: str) -> object:
    """JSON text as a value; NaN and Infinity, which Python's json reads, refused."""
    return _json(json.loads(text, parse_constant=_refuse))


def _json(value: object) -> object:
    """The value when JSON can carry it (finite numbers, string keys); ValueError otherwise."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, list):
        for item in value:
            _json(item)
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError("key")
            _json(item)
        return value
    raise ValueError("json")


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("finite")
    return value


def _refuse(constant: str) -> object:
    raise ValueError(constant)


def _unknown(name: object, declared: Mapping[str, Declared]) -> str:
    if not declared:
        return f"parameter `{name}` is not declared: the notebook has no cell tagged `parameters`, so it takes none"
    return f"parameter `{name}` is not declared by the notebook's `parameters` cell; declared: {', '.join(declared)}"


def _wrong(parameter: Declared, value: object, as_text: bool) -> str:
    noun = (_TEXT_NOUN if as_text else _NOUN)[parameter.kind]
    got = repr(value) if as_text else shown(value)
    return f"parameter `{parameter.name}` must be {noun} (the notebook's default is {_short(parameter.text)}), got {got}"


def _described(parameter: Declared) -> str:
    if parameter.kind in ("none", "any"):
        return f"{parameter.name} = {_short(parameter.text)}"
    return f"{parameter.name}: {parameter.kind} = {_short(repr(parameter.default))}"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:37] + "..."
