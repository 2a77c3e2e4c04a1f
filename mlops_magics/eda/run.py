"""``%eda`` and ``mlops eda`` as one operation: profile, optionally compare and the full report, save to the
workspace, optionally log to MLflow."""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_magics import tracking
from mlops_magics.eda.compare import Comparison, compare
from mlops_magics.eda.engine import profile
from mlops_magics.eda.full import full_report
from mlops_magics.eda.profile import Profile
from mlops_magics.workspace import Workspace

if TYPE_CHECKING:
    from mlops_magics.eda import store

EDA_EXPERIMENT = "eda"
STORE = "mlops_magics.eda.store"


@dataclass
class EdaResult:
    profile: Profile
    saved: store.SavedProfile
    comparison: Comparison | None = None
    full_html: str | None = None
    mlflow_run: str | None = None


def run_eda(
    workspace: Workspace,
    data: Any,
    *,
    name: str | None = None,
    title: str | None = None,
    target: str | None = None,
    sample: int | None = None,
    full: bool = False,
    other: Any = None,
    other_name: str | None = None,
    log: bool = False,
    progress: bool = True,
) -> EdaResult:
    _import_meanwhile(STORE)
    result = profile(data, name=name, title=title, target=target, sample=sample, progress=progress)
    from mlops_magics.eda import store  # waits for the import begun above, or raises what failed in it

    comparison = None
    reference_id = None
    if other is not None:
        current = profile(other, name=other_name, target=None, sample=sample, progress=progress)
        comparison = compare(result, current)
        reference_id = store.save(workspace, current).id
    full_html = full_report(data, result.title, progress=progress) if full else None
    saved = store.save(workspace, result, full_html=full_html, compared_with=reference_id)
    run_id = None
    if log:
        files = [saved.json_path, saved.report_path] + ([saved.full_report_path] if full_html else [])
        run_id = tracking.log_artifacts(workspace, files, f"eda/{saved.id}", EDA_EXPERIMENT)
    return EdaResult(result, saved, comparison, full_html, run_id)


def _import_meanwhile(module: str) -> None:
    """Import ``module`` on a thread of its own while this one profiles.

    The workspace's record of a profile needs SQLAlchemy (~0.25 s to import): it loads while the data is read,
    on what the pass leaves of the cores, rather than after it. An import that fails is raised again by the
    import that waits for it.
    """
    if module not in sys.modules:
        threading.Thread(target=_import_quietly, args=(module,), name=f"import {module}", daemon=True).start()


def _import_quietly(module: str) -> None:
    with contextlib.suppress(Exception):  # the waiting import raises it, where it is handled
        importlib.import_module(module)


def write_outputs(result: EdaResult, html_out: Path | None, json_out: Path | None) -> list[Path]:
    """Copies of the saved report and profile where a CLI user asked for them."""
    written = []
    for source, target in ((result.saved.report_path, html_out), (result.saved.json_path, json_out)):
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            written.append(target)
    return written
