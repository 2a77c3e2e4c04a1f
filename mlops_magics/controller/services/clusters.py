"""The controller's Dask clusters: started from a spec, watched, scaled, stopped, restored after a crash.

The record in ``state.db`` is the truth about what was asked for (``desired``); the live objects here are
what is. On start the controller restores every cluster whose desired state is running: a local one is started
again; a gateway cluster outlives the controller in its gateway, so the next controller reconnects to it by the
name its scheduler address ends in, and starts a new one only when the gateway no longer has it.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mlops_magics import cluster as cluster_core
from mlops_magics import gateway, names
from mlops_magics.api.clusters import ClusterScale, ClusterSpec
from mlops_magics.errors import Conflict, InvalidInput, MLOpsError, NotFound
from mlops_magics.state import ClusterRecord, Event

log = logging.getLogger("mlops.controller.services.clusters")

CONNECT_TIMEOUT_S = 10
SCALE_TIMEOUT_S = 90
WHERE = "the controller (start it from a shell that has it: mlops controller stop, then any %cluster or mlops command)"


@dataclass
class LiveCluster:
    cluster: Any | None  # None when we only connect to somebody else's scheduler
    client: Any  # distributed.Client held by the controller to watch the scheduler
    spec: ClusterSpec | None = None  # a gateway cluster's spec: its gateway and how to authenticate there


def _probe(address: str) -> None:
    """Fail fast on a TCP address nobody listens on, instead of waiting for the connect timeout."""
    scheme, _, rest = address.partition("://")
    if scheme != "tcp":
        return
    host, _, port = rest.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise InvalidInput(
            f"could not reach a Dask scheduler at {address} ({exc.strerror or exc}); "
            "check that the scheduler runs and the address is PROTOCOL://HOST:PORT"
        ) from None


def _connect(address: str, security: Any = None) -> Any:
    from distributed import Client

    _probe(address)
    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False, security=security)
    except (OSError, TimeoutError) as exc:
        raise InvalidInput(
            f"could not reach a Dask scheduler at {address} ({type(exc).__name__}: {exc}); "
            "check that the scheduler runs and the address is PROTOCOL://HOST:PORT"
        ) from None


class ClusterSupervisor:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._live: dict[str, LiveCluster] = {}
        self._lock = threading.RLock()

    # --- records -------------------------------------------------------------------------------------
    def _record(self, session: Session, name: str) -> ClusterRecord:
        record = session.get(ClusterRecord, name)
        if record is None:
            raise NotFound(f"no cluster named {name!r}; start one with %cluster start or `mlops cluster start`")
        return record

    def _event(self, session: Session, kind: str, subject: str, message: str) -> None:
        session.add(Event(kind=kind, subject=subject, message=message))
        log.info("%s %s: %s", kind, subject, message)

    def _set(self, name: str, **fields: Any) -> None:
        with self._sessions.begin() as session:
            record = self._record(session, name)
            for key, value in fields.items():
                setattr(record, key, value)

    # --- views ---------------------------------------------------------------------------------------
    def _view(self, record: ClusterRecord) -> dict[str, Any]:
        view: dict[str, Any] = {
            "name": record.name,
            "spec": record.spec,
            "status": record.status,
            "reason": record.reason,
            "scheduler_address": record.scheduler_address,
            "dashboard_link": record.dashboard_link,
            "workers": 0,
            "threads": 0,
            "memory": 0,
            "created_at": record.created_at.isoformat(),
        }
        live = self._live.get(record.name)
        if live is not None and record.status == "running":
            try:
                workers = live.client.scheduler_info(n_workers=-1)["workers"].values()
            except Exception as exc:  # the scheduler went away under us
                view["status"], view["reason"] = "unreachable", f"scheduler does not answer: {exc}"
            else:
                view["workers"] = len(workers)
                view["threads"] = sum(int(w.get("nthreads", 0)) for w in workers)
                view["memory"] = sum(int(w.get("memory_limit", 0) or 0) for w in workers)
        return view

    def list(self) -> list[dict[str, Any]]:
        with self._lock, self._sessions() as session:
            records = session.scalars(select(ClusterRecord).order_by(ClusterRecord.created_at)).all()
            return [self._view(r) for r in records if r.desired == "running" or r.status == "failed"]

    def get(self, name: str) -> dict[str, Any]:
        with self._lock, self._sessions() as session:
            return self._view(self._record(session, name))

    # --- actions -------------------------------------------------------------------------------------
    def start(self, name: str, spec: ClusterSpec) -> dict[str, Any]:
        names.cluster_name(name)
        with self._lock:
            with self._sessions.begin() as session:
                record = session.get(ClusterRecord, name)
                if record is not None and record.desired == "running" and name in self._live:
                    raise Conflict(
                        f"cluster {name!r} is already running ({record.scheduler_address}); "
                        "scale it, stop it, or start another under a new name"
                    )
                if record is None:
                    record = ClusterRecord(name=name, spec=spec.to_dict())
                    session.add(record)
                record.spec, record.desired, record.status, record.reason = spec.to_dict(), "running", "starting", None
                self._event(session, "cluster.start", name, spec.describe())
            self._bring_up(name, spec)
            return self.get(name)

    def _bring_up(self, name: str, spec: ClusterSpec, adopt: str | None = None) -> None:
        """Start (or, for a gateway cluster named ``adopt``, reconnect to) the cluster and record where it runs."""
        live: LiveCluster | None = None
        try:
            dashboard = None
            if spec.kind == "address":
                live = LiveCluster(None, _connect(str(spec.address)))
                address = str(spec.address)
            elif spec.kind == "gateway":
                cluster = self._gateway_cluster(name, spec, adopt)  # a new one has its workers already
                live = LiveCluster(cluster, None, spec)
                live.client = _connect(cluster.scheduler_address, cluster.security)
                address, dashboard = cluster.scheduler_address, cluster.dashboard_link
            else:
                cluster = cluster_core.build(spec)
                live = LiveCluster(cluster, None)
                live.client = _connect(cluster.scheduler_address)
                address = cluster.scheduler_address
            if spec.kind == "local":
                live.client.wait_for_workers(spec.workers, timeout=SCALE_TIMEOUT_S)
        except MLOpsError as exc:
            self._close(name, live, shutdown=True)
            self._set(name, status="failed", reason=exc.message, desired="stopped")
            raise
        except Exception as exc:
            message = f"could not start cluster {name!r}: {type(exc).__name__}: {exc}"
            log.exception("cluster %s failed to start", name)
            self._close(name, live, shutdown=True)
            self._set(name, status="failed", reason=message, desired="stopped")
            raise MLOpsError(message) from None
        self._live[name] = live
        link = dashboard or live.client.dashboard_link
        self._set(name, status="running", scheduler_address=address, dashboard_link=link)

    def _gateway_cluster(self, name: str, spec: ClusterSpec, adopt: str | None) -> Any:
        """The gateway cluster ``adopt`` when its gateway still has it, else a new one."""
        if adopt:
            with gateway.session(spec, WHERE) as session:
                if gateway.find(session, spec, adopt):
                    cluster = gateway.connect(session, spec, adopt)
                    self._note(name, "cluster.adopt", f"reconnected to gateway cluster {adopt}")
                    return cluster
            self._note(name, "cluster.restore", f"the gateway no longer has cluster {adopt}; starting a new one")

        def named(address: str) -> None:  # kept before it runs: a controller killed now still finds it
            self._set(name, scheduler_address=address)

        return gateway.start(spec, WHERE, named=named)

    def _note(self, name: str, kind: str, message: str) -> None:
        with self._sessions.begin() as session:
            self._event(session, kind, name, message)

    def scale(self, name: str, scale: ClusterScale) -> dict[str, Any]:
        count = scale.workers
        with self._lock:
            with self._sessions() as session:
                record = self._record(session, name)
            live = self._live.get(name)
            if live is None or record.status != "running":
                raise Conflict(f"cluster {name!r} is {record.status}, not running; start it first")
            if live.cluster is None:
                raise InvalidInput(
                    f"cluster {name!r} is a scheduler at {record.scheduler_address} run elsewhere; scale it where it runs"
                )
            if live.spec is not None:
                gateway.scale(live.cluster, live.spec, count)
            else:
                live.cluster.scale(count)
            self._wait_for_count(live, count)
            spec = dict(record.spec, workers=count)
            with self._sessions.begin() as session:
                self._record(session, name).spec = spec
                self._event(session, "cluster.scale", name, f"{count} worker(s)")
            return self.get(name)

    @staticmethod
    def _wait_for_count(live: LiveCluster, count: int) -> None:
        deadline = time.monotonic() + SCALE_TIMEOUT_S
        while time.monotonic() < deadline:
            if len(live.client.scheduler_info(n_workers=-1)["workers"]) == count:
                return
            time.sleep(0.2)
        raise MLOpsError(f"the cluster did not reach {count} worker(s) within {SCALE_TIMEOUT_S} s")

    def stop(self, name: str) -> dict[str, Any]:
        with self._lock:
            with self._sessions.begin() as session:
                record = self._record(session, name)
                record.desired = "stopped"
                self._event(session, "cluster.stop", name, "stopped on request")
                spec, address = record.spec, record.scheduler_address
            reason = None
            if name in self._live:
                self._tear_down(name)
            elif spec.get("kind") == "gateway" and address:
                reason = self._stop_in_gateway(spec, address)
            self._set(name, status="stopped", reason=reason)
            return self.get(name)

    @staticmethod
    def _stop_in_gateway(raw: dict[str, Any], address: str) -> str | None:
        """Stop a gateway cluster this controller holds no handle on (it could not reconnect): by its name."""
        try:
            spec = ClusterSpec.from_dict(raw)
            with gateway.session(spec, WHERE) as session:
                if gateway.find(session, spec, gateway.cluster_name(address)):
                    gateway.stop(session, spec, gateway.cluster_name(address))
        except MLOpsError as exc:
            return f"its gateway cluster may still run: {exc.message}"
        return None

    def _tear_down(self, name: str, shutdown: bool = True) -> None:
        self._close(name, self._live.pop(name, None), shutdown)

    @staticmethod
    def _close(name: str, live: LiveCluster | None, shutdown: bool) -> None:
        """Close our client and the cluster; ``shutdown`` False leaves a gateway cluster running in its gateway."""
        if live is None:
            return
        for closeable in (live.client, live.cluster):
            if closeable is None:
                continue
            try:
                if live.spec is not None and closeable is live.cluster:
                    gateway.close(closeable, shutdown=shutdown)
                else:
                    closeable.close()
            except Exception:  # closing is best effort; the processes die with the controller anyway
                log.exception("closing %s of cluster %s failed", type(closeable).__name__, name)

    # --- controller life -----------------------------------------------------------------------------
    def restore(self) -> None:
        """Bring back every cluster that should be running (after a crash or a controller restart)."""
        with self._sessions() as session:
            wanted = session.scalars(select(ClusterRecord).where(ClusterRecord.desired == "running")).all()
        for record in wanted:  # each apart: one that cannot come back is marked, and the others still do
            try:
                self._restore(record)
            except MLOpsError as exc:
                log.warning("could not restore cluster %s: %s", record.name, exc.message)
            except Exception as exc:
                log.exception("restoring cluster %s failed", record.name)
                self._mark_failed(record.name, f"could not be restored ({type(exc).__name__}: {exc})")

    def _restore(self, record: ClusterRecord) -> None:
        try:
            spec = ClusterSpec.from_dict(record.spec)
        except InvalidInput as exc:
            self._mark_failed(record.name, f"its saved spec is not valid: {exc.message}; start it again")
            return
        with self._lock:
            if record.name in self._live:
                return
            self._set(record.name, status="starting", reason=None)
            with self._sessions.begin() as session:
                self._event(session, "cluster.restore", record.name, "restoring after controller start")
            adopt = None
            if spec.kind == "gateway" and record.scheduler_address:
                adopt = gateway.cluster_name(record.scheduler_address)
            # Marks the record failed itself when the cluster does not come up.
            self._bring_up(record.name, spec, adopt=adopt)

    def _mark_failed(self, name: str, reason: str) -> None:
        log.warning("cluster %s: %s", name, reason)
        try:
            self._set(name, status="failed", reason=reason, desired="stopped")
        except Exception:  # the record cannot be written (database busy): the log has it
            log.exception("marking cluster %s failed did not work", name)

    def close_all(self) -> None:
        """Stop the live clusters on controller shutdown; their desired state stays, so they come back. A gateway
        cluster is only let go: it runs on in its gateway, and the next controller reconnects to it."""
        with self._lock:
            for name in list(self._live):
                kept = self._live[name].spec is not None
                self._tear_down(name, shutdown=not kept)
                reason = "controller stopped" + ("; the cluster runs on in its gateway" if kept else "")
                self._set(name, status="stopped", reason=reason)
