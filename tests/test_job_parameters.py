"""A job's parameters as papermill has them: declared by the cell tagged `parameters`, typed by their defaults
(from JSON or from text typed on a command line), injected in the cell papermill writes — and arriving typed in a
real kernel."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill
import pytest
from nbclient import NotebookClient

from mlops_magics.errors import InvalidInput
from mlops_magics.jobs.parameters import Declared, declared, describe, inject, typed

PARAMETERS = """\
import numpy as np
%matplotlib inline

alpha = 0.5  # learning rate
epochs: int = 3
region = "eu"
verbose = True
columns = ["a", "b"]
options = {"depth": 2}
limit = None
grid = np.arange(3)
shape = (2, 2)
offset = -4
"""


def _notebook(*cells: nbformat.NotebookNode, kernel: bool = True) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=list(cells))
    if kernel:
        nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
        nb.metadata["language_info"] = {"name": "python"}
    return nb


def _parameters_cell(source: str = PARAMETERS) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    return cell


def _job_notebook() -> nbformat.NotebookNode:
    return _notebook(
        nbformat.v4.new_markdown_cell("# Retrain"),
        _parameters_cell(),
        nbformat.v4.new_code_cell("result = alpha * epochs"),
    )


def _saved(nb: nbformat.NotebookNode, path: Path) -> Path:
    nbformat.write(nb, path)
    return path


def _refusal(given: dict[str, object], *, from_text: bool = False, nb: nbformat.NotebookNode | None = None) -> str:
    with pytest.raises(InvalidInput) as caught:
        typed(declared(nb if nb is not None else _job_notebook()), given, from_text=from_text)
    return str(caught.value)


# --- declared -------------------------------------------------------------------------------------------------


def test_defaults_of_each_type_are_declared_in_order(tmp_path: Path) -> None:
    # Read back from a file, as a job's snapshot is.
    nb = nbformat.read(_saved(_job_notebook(), tmp_path / "job.ipynb"), as_version=4)
    found = declared(nb)
    assert list(found) == ["alpha", "epochs", "region", "verbose", "columns", "options", "limit", "grid", "shape", "offset"]
    assert found["alpha"] == Declared("alpha", "float", 0.5, "0.5")
    assert found["epochs"] == Declared("epochs", "int", 3, "3")  # annotated
    assert found["region"] == Declared("region", "str", "eu", '"eu"')
    assert found["verbose"] == Declared("verbose", "bool", True, "True")
    assert found["columns"] == Declared("columns", "list", ["a", "b"], '["a", "b"]')
    assert found["options"] == Declared("options", "dict", {"depth": 2}, '{"depth": 2}')
    assert found["limit"] == Declared("limit", "none", None, "None")
    assert found["offset"] == Declared("offset", "int", -4, "-4")


def test_a_default_that_is_not_a_literal_is_declared_as_any() -> None:
    found = declared(_job_notebook())
    assert found["grid"] == Declared("grid", "any", None, "np.arange(3)")
    assert found["shape"].kind == "any"  # a tuple: a literal JSON cannot carry
    assert typed(found, {"grid": [1, 2], "shape": "x"}) == {"grid": [1, 2], "shape": "x"}


def test_only_the_first_parameters_cell_and_only_plain_names_declare() -> None:
    nb = _notebook(
        _parameters_cell("a = b = 1\nc, d = 2, 3\nobj.attr = 4\ne = 5\ne = 6.5\nif True:\n    f = 7\ndef g():\n    h = 8"),
        _parameters_cell("later = 1"),
    )
    found = declared(nb)
    assert list(found) == ["a", "b", "e"]
    assert found["e"] == Declared("e", "float", 6.5, "6.5")  # the value Python leaves


def test_a_notebook_without_a_parameters_cell_declares_nothing_and_takes_no_parameter() -> None:
    nb = _notebook(nbformat.v4.new_code_cell("alpha = 0.5"))
    assert declared(nb) == {}
    assert typed({}, {}) == {}
    message = _refusal({"alpha": 1}, nb=nb)
    assert "parameter `alpha` is not declared" in message and "no cell tagged `parameters`" in message
    assert describe({}) == "no parameters"


def test_a_parameters_cell_that_is_not_python_is_refused_with_its_line() -> None:
    with pytest.raises(InvalidInput, match=r"`parameters` cell is not Python \(line 2"):
        declared(_notebook(_parameters_cell("alpha = 0.5\nbeta = = 2")))


def test_describe_is_one_line_for_the_faces() -> None:
    nb = _notebook(_parameters_cell("alpha = 0.5\nregion = 'eu'\nlimit = None\ngrid = np.arange(3)\nnotes = '" + "x" * 80 + "'"))
    line = describe(declared(nb))
    assert line.startswith("alpha: float = 0.5, region: str = 'eu', limit = None, grid = np.arange(3), notes: str = 'xxx")
    assert line.endswith("...") and "\n" not in line


# --- typed: from JSON -----------------------------------------------------------------------------------------


def test_json_values_of_the_declared_types_are_accepted_and_typed() -> None:
    given = {
        "alpha": 1,  # an int where a float is declared arrives as a float
        "epochs": 10,
        "region": "eu-west",
        "verbose": False,
        "columns": ["x"],
        "options": {"depth": 4, "nested": [1.5, None]},
        "limit": {"any": ["json"]},
    }
    values = typed(declared(_job_notebook()), given)
    assert values == {**given, "alpha": 1.0}
    assert isinstance(values["alpha"], float)
    assert typed(declared(_job_notebook()), {"epochs": 2.0})["epochs"] == 2  # JSON has one kind of number


def test_json_values_of_the_wrong_type_are_refused_all_in_one_line() -> None:
    message = _refusal(
        {
            "epochs": True,
            "alpha": float("nan"),
            "region": 3,
            "verbose": 1,
            "columns": "a,b",
            "options": [],
            "limit": [float("inf")],
        }
    )
    assert "\n" not in message
    assert message.count("; ") == 6
    assert "parameter `epochs` must be a whole number (the notebook's default is 3), got true" in message
    assert "parameter `alpha` must be a finite number (the notebook's default is 0.5), got NaN" in message
    assert "parameter `region` must be a string" in message
    assert "parameter `verbose` must be true or false (the notebook's default is True), got 1" in message
    assert "parameter `columns` must be a JSON list" in message
    assert "parameter `options` must be a JSON object" in message
    assert "parameter `limit` must be a JSON value" in message


def test_a_string_is_not_a_number_from_json() -> None:
    assert 'parameter `epochs` must be a whole number (the notebook\'s default is 3), got "3"' in _refusal({"epochs": "3"})
    assert "parameter `epochs` must be a whole number" in _refusal({"epochs": 2.5})
    assert "parameter `alpha` must be a finite number" in _refusal({"alpha": "0.1"})


def test_an_unknown_parameter_is_refused_with_the_declared_ones() -> None:
    message = _refusal({"beta": 1, "alpha": 0.1, "gamma": 2})
    declared_ones = "alpha, epochs, region, verbose, columns, options, limit, grid, shape, offset"
    assert message == (
        f"parameter `beta` is not declared by the notebook's `parameters` cell; declared: {declared_ones}; "
        f"parameter `gamma` is not declared by the notebook's `parameters` cell; declared: {declared_ones}"
    )


# --- typed: from text -----------------------------------------------------------------------------------------


def test_text_is_read_by_the_default_type_and_a_string_needs_no_quotes() -> None:
    given = {
        "region": "eu-west",
        "alpha": "1e-3",
        "epochs": " 12 ",
        "verbose": "no",
        "columns": '["x", "y"]',
        "options": '{"depth": 5}',
        "limit": "3",
        "grid": "not json at all",
    }
    assert typed(declared(_job_notebook()), given, from_text=True) == {
        "region": "eu-west",
        "alpha": 0.001,
        "epochs": 12,
        "verbose": False,
        "columns": ["x", "y"],
        "options": {"depth": 5},
        "limit": 3,
        "grid": "not json at all",
    }


def test_text_for_a_string_is_taken_as_is() -> None:
    found = declared(_job_notebook())
    for text in ("a=b c=d", '"quoted"', "", "  spaced  ", "3", "true", "[1]"):
        assert typed(found, {"region": text}, from_text=True) == {"region": text}


@pytest.mark.parametrize(
    ("word", "value"), [("true", True), ("TRUE", True), ("Yes", True), ("1", True), ("false", False), ("No", False), ("0", False)]
)
def test_bool_words(word: str, value: bool) -> None:
    assert typed(declared(_job_notebook()), {"verbose": word}, from_text=True) == {"verbose": value}


def test_text_of_the_wrong_type_is_refused_naming_what_was_typed() -> None:
    message = _refusal(
        {"alpha": "abc", "epochs": "3.5", "verbose": "maybe", "columns": '{"a": 1}', "options": "depth=2", "limit": "NaN"},
        from_text=True,
    )
    assert "parameter `alpha` must be a finite number (the notebook's default is 0.5), got 'abc'" in message
    assert "parameter `epochs` must be a whole number (the notebook's default is 3), got '3.5'" in message
    assert "parameter `verbose` must be true/false, yes/no or 1/0" in message
    assert "parameter `columns` must be a JSON list" in message
    assert "parameter `options` must be a JSON object" in message
    assert message.count("; ") == 4  # limit: "NaN" is not JSON, so it is the text "NaN"
    assert "finite number" in _refusal({"alpha": "inf"}, from_text=True)
    assert "JSON list" in _refusal({"columns": "[NaN]"}, from_text=True)


# --- inject ---------------------------------------------------------------------------------------------------


def _papermill_prepared(nb: nbformat.NotebookNode, parameters: dict[str, object], tmp_path: Path) -> nbformat.NotebookNode:
    source = _saved(nb, tmp_path / "in.ipynb")
    return papermill.execute_notebook(str(source), str(tmp_path / "out.ipynb"), parameters=parameters, prepare_only=True)


@pytest.mark.parametrize("with_parameters_cell", [True, False])
def test_the_injected_cell_is_the_one_papermill_writes(tmp_path: Path, with_parameters_cell: bool) -> None:
    cells = [nbformat.v4.new_markdown_cell("# Retrain"), nbformat.v4.new_code_cell("x = 1")]
    if with_parameters_cell:
        cells.insert(1, _parameters_cell())
    nb = _notebook(*cells)
    parameters = typed(
        declared(_job_notebook()),
        {
            "alpha": "0.25",
            "epochs": "7",
            "region": 'eu "west"\\1',
            "verbose": "yes",
            "columns": "[1, 2.5, null]",
            "options": '{"a": {"b": [true]}}',
        },
        from_text=True,
    )
    ours = inject(nb, parameters)
    theirs = _papermill_prepared(nb, parameters, tmp_path)
    shape = [(cell.cell_type, cell.metadata.get("tags"), cell.source) for cell in ours.cells]
    assert shape == [(cell.cell_type, cell.metadata.get("tags"), cell.source) for cell in theirs.cells]
    where = 2 if with_parameters_cell else 0
    assert ours.cells[where].metadata["tags"] == ["injected-parameters"]
    assert ours.cells[where].source.startswith("# Parameters\nalpha = 0.25\nepochs = 7\n")
    assert ours.metadata["papermill"]["parameters"] == theirs.metadata["papermill"]["parameters"] == parameters


def test_inject_replaces_an_injected_cell_already_there_and_leaves_its_input_alone(tmp_path: Path) -> None:
    nb = _job_notebook()
    before = json.dumps(nb, sort_keys=True)
    once = inject(nb, {"alpha": 0.1})
    twice = inject(once, {"epochs": 9})
    assert json.dumps(nb, sort_keys=True) == before
    assert [cell.metadata["tags"] for cell in twice.cells] == [[], ["parameters"], ["injected-parameters"], []]
    assert twice.cells[2].source == "# Parameters\nepochs = 9\n"
    theirs = _papermill_prepared(once, {"epochs": 9}, tmp_path)
    assert [cell.source for cell in twice.cells] == [cell.source for cell in theirs.cells]


def test_no_parameters_injects_nothing_as_papermill_does(tmp_path: Path) -> None:
    nb = _job_notebook()
    ours = inject(nb, {})
    assert [cell.source for cell in ours.cells] == [cell.source for cell in nb.cells]
    assert [cell.source for cell in _papermill_prepared(nb, {}, tmp_path).cells] == [cell.source for cell in ours.cells]


def test_a_notebook_without_kernel_metadata_is_injected_for_python() -> None:
    nb = _notebook(_parameters_cell("alpha = 0.5"), kernel=False)
    assert inject(nb, {"alpha": 2.0}).cells[1].source == "# Parameters\nalpha = 2.0\n"


def test_injected_values_arrive_typed_in_a_real_kernel(tmp_path: Path) -> None:
    tricky = 'eu-west a=b "quoted" \\back\\slash\nnew line é 😀'
    nb = _notebook(
        _parameters_cell(),
        nbformat.v4.new_code_cell(
            "assert isinstance(alpha, float) and alpha == 1.0, alpha\n"
            "assert isinstance(epochs, int) and not isinstance(epochs, bool) and epochs == 12, epochs\n"
            f"assert region == {tricky!r}, region\n"
            "assert verbose is False\n"
            "assert columns == ['x', 'y=z']\n"
            "assert options == {'depth': 5, 'tags': [True, None, 2.5]}\n"
            "assert limit == 'free text'\n"
            "assert list(grid) == [1, 2]\n"
            "print('typed', type(alpha).__name__, type(epochs).__name__)"
        ),
    )
    found = declared(nb)
    values = {
        **typed(found, {"alpha": 1, "region": tricky, "options": {"depth": 5, "tags": [True, None, 2.5]}}),
        **typed(
            found,
            {"epochs": "12", "verbose": "FALSE", "columns": '["x", "y=z"]', "limit": "free text", "grid": "[1, 2]"},
            from_text=True,
        ),
    }
    executed = inject(nb, values)
    NotebookClient(executed, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    (output,) = executed.cells[-1].outputs
    assert output["text"] == "typed float int\n"
