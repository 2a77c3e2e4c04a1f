"""Standing monitors end to end: a real controller checks a real deployment's logged requests every 10 s, raises one
drift alert per incident (the cooldown), posts it to a webhook, starts the retraining job once through its event,
keeps the checks as history, and carries on after a controller restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from mlops_magics import arguments
from mlops_magics.api.monitors import MonitorSpec
from mlops_magics.controller import Controller
from mlops_magics.controller.services.monitors import MonitorSupervisor
from mlops_magics.errors import InvalidInput, NotFound
from mlops_magics.monitor import actions
from mlops_magics.state import sessions
from mlops_magics.workspace import Workspace
from tests.test_jobs import notebook, wait_for
from tests.test_monitor_check import deployed, draw, send, wait_logged

__all__ = ["deployed"]  # the module's fixture: a model trained with its profile, served on a real port


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook on loopback that keeps the JSON bodies posted to it."""
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def until(what: Callable[[], Any], timeout: float = 60, step: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(step)
    raise AssertionError(f"not within {timeout} s")


def order(line: str) -> Any:
    return arguments.monitor_order(arguments.parse(arguments.monitor_parser("%monitor"), line))


def test_drift_raises_one_alert_starts_the_job_once_and_survives_a_restart(deployed, webhook) -> None:
    workspace, controller, view = deployed
    url, posted = webhook
    sent = send(view, draw(400, seed=2, shift={"income": 1.0, "visits": -0.8}))
    wait_logged(workspace.requests / "loans", sent)
    notebook(workspace.root / "retrain.ipynb", "print('retraining', drifted)", parameters="drifted = ''\nmonitor = ''")
    controller.put_job("retrain-loans", {"notebook": "retrain.ipynb", "on_event": "alert:loans"})

    created = actions.carry_out(
        controller, order(f"loans --every 10s --window 400 --on-drift retrain=retrain-loans --cooldown 1h --notify {url}")
    )
    assert created.view["name"] == "loans" and created.view["spec"]["on_drift"] == {"retrain": "retrain-loans"}
    assert created.lines[0].startswith("monitor 'loans': loans every 10s over 400")

    # the first check is due at once; it finds the shifted features and raises the alert
    first = until(lambda: controller.monitor_checks("loans"))[0]
    assert first["verdict"] == "drift" and first["alert"] == "drift", first
    assert first["details"]["drifted"] == ["income", "visits"] and first["details"]["rows"] == 400
    alert = until(lambda: [a for a in controller.alerts() if a["run"] is not None])[0]
    assert (alert["monitor"], alert["kind"], alert["job"], alert["run"]) == ("loans", "drift", "retrain-loans", 1)
    run = wait_for(controller, "retrain-loans", 1)
    assert run["state"] == "succeeded" and run["trigger"] == "event", run
    assert run["trigger_detail"] == "drift on loans: income, visits"
    assert run["parameters"] == {"drifted": "income,visits", "monitor": "loans"}  # those its notebook declares
    hook = until(lambda: posted, timeout=10)[0]
    assert hook["kind"] == "drift" and hook["text"].startswith("mlops monitor 'loans' (loans): drift - 2 of")

    # the same incident checked again, now: within the cooldown, no second alert, no second run
    again = controller.check_monitor("loans")
    assert again["verdict"] == "drift" and again["alert"] is None
    assert len(controller.alerts()) == 1 and len(controller.job_runs("retrain-loans")) == 1
    history = controller.monitor_checks("loans")
    assert [c["at"] for c in history] == sorted((c["at"] for c in history), reverse=True) and len(history) >= 2
    status = actions.carry_out(controller, order("status"))
    assert "last drift at" in status.lines[0] and "1 alert(s)" in status.lines[0]
    assert "started job 'retrain-loans' run 1" in actions.carry_out(controller, order("alerts")).lines[0]

    # a restart: the monitor is restored and checks again on its schedule; the cooldown holds across it
    checks = controller.monitor("loans")["checks"]
    controller.shutdown()
    restarted = Controller(workspace, notify=lambda line: None)
    until(lambda: restarted.monitor("loans")["checks"] > checks, timeout=40)
    assert restarted.monitor("loans")["last_verdict"] == "drift"
    assert len(restarted.alerts()) == 1 and len(restarted.job_runs("retrain-loans")) == 1

    # the shell face reads the same monitors; a delete ends its checks
    shell = subprocess.run(
        [sys.executable, "-m", "mlops_magics.cli", "monitor", "status"],
        capture_output=True,
        text=True,
        env={**os.environ, "MLOPS_HOME": str(workspace.home)},
        timeout=60,
    )
    assert shell.returncode == 0 and shell.stdout.startswith("monitor 'loans': loans every 10s"), shell.stderr
    paused = actions.carry_out(restarted, order("pause loans"))
    assert paused.view["paused"] and paused.view["next_check_at"] is None and "(paused)" in paused.lines[1]
    assert actions.carry_out(restarted, order("resume loans")).view["next_check_at"] is not None
    assert actions.carry_out(restarted, order("delete loans")).lines == ["deleted monitor 'loans'"]
    assert restarted.monitors() == [] and len(restarted.alerts()) == 1  # the alerts stay in the log


def test_bad_monitors_are_refused_in_one_line(deployed) -> None:
    workspace, controller, _ = deployed
    notebook(workspace.root / "other.ipynb", "print('x')", parameters=None)
    controller.put_job("other-job", {"notebook": "other.ipynb"})
    for spec, error, words in (
        ({"deployment": "nowhere", "every": "10m"}, NotFound, "no deployment named 'nowhere'"),
        ({"deployment": "loans", "every": "5s"}, InvalidInput, "checks run every 10s to every 7d"),
        ({"deployment": "loans", "every": "soon"}, InvalidInput, "is not a duration"),
        ({"deployment": "loans", "every": "1m", "window": "1w"}, InvalidInput, "field `window`"),
        ({"deployment": "loans", "every": "1m", "thresholds": {"wasserstien": 0.2}}, InvalidInput, "no threshold named"),
        ({"deployment": "loans", "every": "1m", "on_drift": {"retrain": "ghost"}}, NotFound, "no job 'ghost'"),
        ({"deployment": "loans", "every": "1m", "on_drift": {"retrain": "other-job"}}, InvalidInput, "does not wait for"),
        ({"deployment": "loans", "every": "1m", "notify": "ftp://x"}, InvalidInput, "is not an http(s) URL"),
        ({"deployment": "loans", "every": "1m", "minimums": {"rmse": 3.0}}, InvalidInput, "rmse is better smaller"),
        ({"deployment": "loans", "every": "1m", "minimums": {"acuracy": 0.9}}, InvalidInput, "no metric named 'acuracy'"),
    ):
        with pytest.raises(error) as refused:
            controller.put_monitor("checked", spec)
        assert words in refused.value.message and "\n" not in refused.value.message, refused.value.message
    with pytest.raises(InvalidInput, match="monitor name"):
        controller.put_monitor("Bad Name", {"deployment": "loans", "every": "1m"})
    with pytest.raises(NotFound, match="no monitor 'ghost'"):
        controller.check_monitor("ghost")
    for line, words in (
        ("loans --every 5s", "--every '5s' is not accepted"),
        ("loans --on-drift retrain=x", "--on-drift belong(s) to a standing monitor: add --every 10m"),
        ("loans --every 1m --on-drift rebuild", "--on-drift takes retrain=JOB"),
        ("loans --every 1m --max-error-rate lots", "--max-error-rate takes a share between 0 and 1"),
        ("loans --every 1m --max-error-rate 1.5", "--max-error-rate must be a share between 0 and 1"),
        ("delete", "delete needs the monitor's name"),
        ("loans --every 1m --min accuracy=high", "--min accuracy: 'high' is not a number"),
    ):
        with pytest.raises(InvalidInput) as refused:
            order(line)
        assert words in refused.value.message, refused.value.message
    assert controller.monitors() == []
    decaying = order("loans --every 1m --min accuracy=0.9 f1=0.8 --on-decay retrain=x")
    assert decaying.spec.minimums == {"accuracy": 0.9, "f1": 0.8} and decaying.spec.on_decay.retrain == "x"


class _Broken:
    def get(self, name: str) -> dict[str, Any]:
        raise RuntimeError("store gone")


class _Jobs:
    def __init__(self) -> None:
        self.events: list[tuple[str, str | None]] = []

    def event(self, event: str, detail: str | None = None, values: dict[str, str] | None = None) -> list[dict[str, Any]]:
        self.events.append((event, detail))
        return [{"job": "retrain", "number": len(self.events)}]


def test_no_traffic_after_traffic_is_an_alert_and_each_kind_has_its_own_cooldown(tmp_path) -> None:
    workspace = Workspace(tmp_path / ".mlops")
    workspace.ensure()
    jobs = _Jobs()
    monitors = MonitorSupervisor(workspace, sessions(workspace.state_db), _Broken(), jobs)
    spec = MonitorSpec.from_dict({"deployment": "loans", "every": "10s", "on_drift": {"retrain": "retrain"}})
    with sessions(workspace.state_db).begin() as session:
        from mlops_magics.state.models import MonitorRecord

        session.add(MonitorRecord(name="loans", spec=spec.to_dict()))
    quiet = monitors._record("loans", spec, "no data", "no rows in the current window", {}, 0)
    assert quiet["alert"] is None  # never had traffic: nothing stopped
    assert monitors._record("loans", spec, "no drift", "none drifted", {}, 400)["alert"] is None
    stopped = monitors._record("loans", spec, "no data", "no rows in the current window", {}, 0)
    assert stopped["alert"] == "no traffic" and "after traffic before" in monitors.alerts()[0]["message"]
    assert monitors._record("loans", spec, "no data", "no rows", {}, 0)["alert"] is None  # the same incident
    drift = monitors._record("loans", spec, "drift", "1 of 4 drifted: age", {"drifted": ["age"]}, 400)
    assert drift["alert"] == "drift" and jobs.events == [("alert:loans", "drift on loans: age")]
    assert monitors._record("loans", spec, "schema change", "schema changed: tenure", {}, 400)["alert"] == "schema change"
    assert [a["kind"] for a in monitors.alerts()] == ["schema change", "drift", "no traffic"]
    assert monitors.alerts()[1]["run"] == 1 and len(jobs.events) == 1  # only drift (and decay) start the job
    assert len(monitors.checks("loans")) == 6
    decays = spec.model_copy(update={"on_decay": spec.on_drift})
    decay = monitors._record("loans", decays, "decay", "accuracy 0.71 below 0.85", {}, 400)
    assert decay["alert"] == "decay" and jobs.events[-1] == ("alert:loans", "decay on loans: accuracy 0.71 below 0.85")
    failing = spec.model_copy(update={"max_error_rate": 0.05})
    both = monitors._record("loans", failing, "drift", "1 of 4 drifted: age", {"error_rate": 0.2, "rows": 400}, 400)
    assert both["alert"] == "error rate"  # drift is within its cooldown; the failures are a new incident
    assert monitors.alerts()[0]["message"] == "20.0% of 400 rows failed (5xx), over 5.0%"
    failed = monitors.check_now("loans")  # a check that fails is kept as one, so the schedule moves on
    assert failed["verdict"] == "error" and failed["reason"].startswith("the check failed: RuntimeError: store gone")
    assert monitors.get("loans")["last_verdict"] == "error" and monitors.get("loans")["next_check_at"] is not None
