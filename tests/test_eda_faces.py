"""%eda in a real kernel, `mlops eda` from a shell, the saved profiles over REST, MLflow logging, --full."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from tornado.httpclient import HTTPClientError

from mlops_magics.eda import store
from mlops_magics.eda.run import run_eda
from mlops_magics.workspace import Workspace

MAKE_FRAME = (
    "import numpy as np, pandas as pd\n"
    "rng = np.random.default_rng(0)\n"
    "df = pd.DataFrame({'x': rng.normal(size=3000), 'y': rng.integers(0, 9, 3000), "
    "'label': rng.choice(['a', 'b'], 3000)})\n"
)


def test_eda_magic_in_a_real_kernel(kernel_factory, workspace: Workspace) -> None:
    kernel = kernel_factory()
    run = kernel.run("%load_ext mlops_magics\n" + MAKE_FRAME + "p = %eda df --target label --title Demo\np")
    assert run.status == "ok", run.text
    assert "saved in the workspace" in run.stdout
    html = next(r["text/html"] for r in run.results if "text/html" in r)
    assert "mlops-eda" in html and "Demo" in html and "Relation to target label" in html
    assert "3,000" in html
    listed = store.list_profiles(workspace)
    assert [p["title"] for p in listed] == ["Demo"] and listed[0]["rows"] == 3000
    # A Dask DataFrame and an expression of the kernel work too; comparing shows drift per column.
    dask_run = kernel.run(
        "import dask.dataframe as dd\nddf = dd.from_pandas(df, npartitions=3)\n"
        "shifted = df.assign(x=df.x + 2)\n%eda ddf --compare shifted"
    )
    assert dask_run.status == "ok", dask_run.text
    comparison = next(r["text/html"] for r in dask_run.results if "text/html" in r and " vs " in r["text/html"])
    assert "drift" in comparison
    expr = kernel.run("%eda df[['x']]")
    assert expr.status == "ok", expr.text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%eda nothing_here", "UsageError: 'nothing_here' is neither a variable of this kernel nor an existing file"),
        ("%eda numbers", "UsageError: cannot profile numbers (a builtins.list); give a pandas DataFrame"),
        ("%eda missing.csv", "UsageError: 'missing.csv' is neither a variable of this kernel nor an existing file"),
        ("%eda df --target nope", "UsageError: target column 'nope' is not in the data"),
        ("%eda df --sample 0", "UsageError: --sample must be a positive number of rows (got 0)"),
    ],
)
def test_eda_bad_input_is_one_line(kernel_factory, line: str, message: str) -> None:
    kernel = kernel_factory()
    run = kernel.run("%load_ext mlops_magics\nnumbers = [1, 2]\n" + MAKE_FRAME + line)
    assert run.status == "error"
    assert run.stderr.startswith(message), run.text
    assert "Traceback" not in run.text


def test_cli_writes_report_and_profile(workspace: Workspace, tmp_path) -> None:
    rng = np.random.default_rng(1)
    data = tmp_path / "data.csv"
    pd.DataFrame({"a": rng.normal(size=500), "b": rng.choice(["u", "v"], 500)}).to_csv(data, index=False)
    out, profile_json = tmp_path / "out" / "report.html", tmp_path / "out" / "profile.json"
    done = subprocess.run(
        [sys.executable, "-m", "mlops_magics.cli", "eda", str(data), "--out", str(out), "--json", str(profile_json)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "500 rows x 2 columns" in done.stdout
    assert out.read_text().startswith("<!doctype html>") and "mlops-eda" in out.read_text()
    saved = json.loads(profile_json.read_text())
    assert saved["overview"]["rows"] == 500 and set(saved["columns"]) == {"a", "b"}
    missing = subprocess.run(
        [sys.executable, "-m", "mlops_magics.cli", "eda", str(tmp_path / "nope.parquet")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: {tmp_path / 'nope.parquet'}: no such file (or nothing matches the glob)"


def test_log_to_mlflow_and_full_report(workspace: Workspace) -> None:
    import mlflow

    frame = pd.DataFrame({"a": np.arange(200, dtype=float), "b": ["x", "y"] * 100})
    result = run_eda(workspace, frame, name="small", log=True, full=True, progress=False)
    assert result.saved.full_report_path.exists()
    assert "ydata" in result.full_html.lower() or "profile report" in result.full_html.lower()
    client = mlflow.MlflowClient(workspace.tracking_uri)
    run = client.get_run(result.mlflow_run)
    assert client.get_experiment(run.info.experiment_id).name == "eda"
    logged = {a.path for a in client.list_artifacts(result.mlflow_run, f"eda/{result.saved.id}")}
    assert logged == {f"eda/{result.saved.id}/{f}" for f in ("profile.json", "report.html", "full.html")}
    assert run.info.artifact_uri.startswith(workspace.artifacts.resolve().as_uri())
    assert store.get(workspace, result.saved.id)["has_full_report"] is True


@pytest.fixture
def jp_server_config(workspace: Workspace) -> dict:
    return {"ServerApp": {"jpserver_extensions": {"mlops_magics": True}, "allow_unauthenticated_access": False}}


async def test_profiles_over_rest(jp_fetch, workspace: Workspace) -> None:
    result = run_eda(workspace, pd.DataFrame({"a": [1.0, 2.0, 2.0]}), name="tiny", progress=False)
    listed = json.loads((await jp_fetch("mlops", "api", "profiles")).body)
    assert [p["id"] for p in listed] == [result.saved.id]
    data = json.loads((await jp_fetch("mlops", "api", "profiles", result.saved.id)).body)
    assert data["overview"]["rows"] == 3
    page = await jp_fetch("mlops", "api", "profiles", result.saved.id, "report")
    assert page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert b"mlops-eda" in page.body
    for parts, code in (
        (("profiles", "20990101-000000-abcdef"), 404),
        (("profiles", "..%2F..%2Fetc"), 400),
        (("profiles", result.saved.id, "report"), None),
    ):
        if code is None:
            with pytest.raises(HTTPClientError) as caught:
                await jp_fetch("mlops", "api", *parts, params={"which": "full"})
            assert caught.value.code == 404 and b"run %eda with --full" in caught.value.response.body
            continue
        with pytest.raises(HTTPClientError) as caught:
            await jp_fetch("mlops", "api", *parts)
        assert caught.value.code == code
