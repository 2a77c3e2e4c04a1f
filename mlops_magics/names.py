"""The names and ids a face accepts, each checked against one pattern before it reaches a path or a URL.

The REST face checks every path parameter with these; the controller client checks again before it builds
a controller URL, and quotes each part anyway, so no name can become a path of its own (``../shutdown``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

from mlops_magics.errors import InvalidInput

DEPLOYMENT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
CLUSTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
PROFILE_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{6}")
# MLflow's own rules for experiment and run ids (mlflow.utils.validation), so any tracking server's ids pass.
EXPERIMENT_ID = re.compile(r"[a-zA-Z0-9][\w\-]{0,63}")
RUN_ID = re.compile(r"[a-zA-Z0-9][\w\-]{0,255}")


def _shown(name: object) -> str:
    text = repr(name)
    return text if len(text) <= 70 else text[:67] + "..."


def _checker(pattern: re.Pattern[str], what: str, accepted: str) -> Callable[[object], str]:
    def check(name: object) -> str:
        if not isinstance(name, str) or not pattern.fullmatch(name):
            raise InvalidInput(f"{what} {_shown(name)} is not accepted: {accepted}")
        return name

    check.__name__ = what.replace(" ", "_")
    return check


deployment_name = _checker(DEPLOYMENT_NAME, "deployment name", "use lowercase letters, digits and '-' (1-63)")
cluster_name = _checker(
    CLUSTER_NAME, "cluster name", "use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit"
)
profile_id = _checker(PROFILE_ID, "profile id", "profile ids look like 20261126-101500-a1b2c3")
experiment_id = _checker(EXPERIMENT_ID, "experiment id", "use the id the experiments list shows (letters, digits, '_', '-')")
run_id = _checker(RUN_ID, "run id", "use the id the runs list shows (letters, digits, '_', '-')")


def url_path(*parts: str) -> str:
    """``/a/b`` from parts, each quoted whole (a '/' or '?' inside a part stays inside it)."""
    return "".join(f"/{quote(part, safe='')}" for part in parts)


JOB_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
RUN_NUMBER = re.compile(r"[1-9][0-9]{0,8}")
job_name = _checker(JOB_NAME, "job name", "use lowercase letters, digits, '_' and '-' (1-63), starting with a letter or digit")
run_number = _checker(RUN_NUMBER, "run number", "use the run's number as the runs list shows it (1, 2, ...)")
# A monitor's name is also its event's (``alert:<monitor>``), so it follows the jobs' rule.
MONITOR_NAME = JOB_NAME
monitor_name = _checker(
    MONITOR_NAME, "monitor name", "use lowercase letters, digits, '_' and '-' (1-63), starting with a letter or digit"
)
