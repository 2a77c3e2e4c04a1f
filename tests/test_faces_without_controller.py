"""Faces make the controller's client only for the operations that talk to the controller: profiling, reviewing and
describing the workspace read the workspace alone (and never import the client's HTTP library)."""

from __future__ import annotations

import subprocess
import sys

from mlops_magics.workspace import Workspace


def test_eda_magic_makes_no_controller_client(kernel_factory) -> None:
    kernel = kernel_factory()
    run = kernel.run(
        "import sys\n%load_ext mlops_magics\nimport pandas as pd\n"
        "df = pd.DataFrame({'x': range(200), 'label': ['a', 'b'] * 100})\n"
        "_ = %eda df\n"
        "print('client imported', 'mlops_magics.controller.client' in sys.modules)"
    )
    assert run.status == "ok", run.text
    assert "client imported False" in run.stdout, run.text


def test_cli_workspace_makes_no_controller_client(workspace: Workspace) -> None:
    script = (
        "import sys\nfrom mlops_magics.cli import main\n"
        "try:\n    main(['workspace'])\nexcept SystemExit as exit:\n    code = exit.code\n"
        "print('exit', code, 'client imported', 'mlops_magics.controller.client' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert str(workspace.home) in done.stdout
    assert "exit 0 client imported False" in done.stdout, done.stdout + done.stderr
