"""Where a job's notebook and files are: names relative to the workspace's root, never a path outside it; the
snapshot a job keeps of them."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlops_magics.errors import Forbidden, InvalidInput, NotFound
from mlops_magics.workspace import Workspace


def inside_root(workspace: Workspace, name: str, what: str = "notebook") -> Path:
    """``name`` (relative to the root, or absolute) as an absolute path; Forbidden when it leads outside the root
    (through '..' or a link), InvalidInput when it is not a plain path."""
    root = workspace.root.resolve()
    given = Path(name).expanduser()
    path = (given if given.is_absolute() else root / given).resolve()
    if path != root and root not in path.parents:
        raise Forbidden(f"{what} {name!r} is outside {root}: jobs run only what lies under the Jupyter root")
    return path


def relative_to_root(workspace: Workspace, path: Path) -> str:
    """How JupyterLab names ``path``: relative to the root, with '/'."""
    return path.resolve().relative_to(workspace.root.resolve()).as_posix()


def notebook_file(workspace: Workspace, name: str) -> Path:
    path = inside_root(workspace, name)
    if path.suffix != ".ipynb":
        raise InvalidInput(f"notebook {name!r} is not a .ipynb file")
    if not path.is_file():
        raise NotFound(f"no notebook {relative_or_name(workspace, path, name)!r} under {workspace.root}")
    return path


def relative_or_name(workspace: Workspace, path: Path, name: str) -> str:
    try:
        return relative_to_root(workspace, path)
    except ValueError:
        return name


def take_snapshot(workspace: Workspace, job: str, notebook: Path, files: list[str]) -> Path:
    """Copy the notebook (and the extra files, under the same relative names) into the job's folder; return the
    snapshot's notebook. A new snapshot replaces the old one whole."""
    folder = workspace.job(job)
    staging = folder.with_name(f".{job}.new")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "files").mkdir(parents=True)
    shutil.copy2(notebook, staging / "notebook.ipynb")
    for name in files:
        source = inside_root(workspace, name, "file")
        if not source.exists():
            raise NotFound(f"no file {name!r} under {workspace.root} to copy with the notebook")
        target = staging / "files" / relative_to_root(workspace, source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder / "notebook.ipynb"
