"""Clusters from a Dask Gateway (dask-gateway-server on Kubernetes, YARN, HPC or local processes).

A gateway cluster lives in the gateway, not in the process that asked for it: it is named by the gateway, it
outlives its client, and any process with the user's credentials can reconnect to it by name. The controller
starts one, keeps its name (the last part of its scheduler address, ``gateway://PROXY/NAME``), and reconnects to
it after a restart; a kernel connects to it by name too, with the TLS credentials the gateway gives for it.

Credentials come from the environment of the process that talks to the gateway, and only from there: they are
never part of a spec, a record, a log line or a message.
- ``none``: the user's login name, no password (a gateway without authentication);
- ``simple``: ``DASK_GATEWAY_PASSWORD`` (and ``DASK_GATEWAY_USER``, else the login name);
- ``jupyterhub``: ``JUPYTERHUB_API_TOKEN`` (set in every JupyterHub single-user server);
- ``kerberos``: the ticket of ``kinit`` (needs pykerberos);
- no auth named: as dask config ``gateway.auth`` says (what a JupyterHub deployment of dask-gateway sets).
"""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from mlops_magics.errors import InvalidInput, MLOpsError

if TYPE_CHECKING:
    from mlops_magics.api.clusters import ClusterSpec

PASSWORD_ENV = "DASK_GATEWAY_PASSWORD"
USER_ENV = "DASK_GATEWAY_USER"
TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
CONNECT_TIMEOUT_S = 10
START_TIMEOUT_S = 120  # the gateway's own start timeout applies too; this bounds our wait for its answer

T = TypeVar("T")


def cluster_name(scheduler_address: str) -> str:
    """The gateway's name of a cluster, from its scheduler address ``gateway://PROXY/NAME``."""
    return scheduler_address.rstrip("/").rpartition("/")[2]


def _auth(kind: str | None, where: str) -> Any:
    from dask_gateway import auth

    missing = f"is not in the environment of {where}; set it there (it is read from the environment only, never stored)"
    if kind is None:
        try:
            return auth.get_auth()  # dask config gateway.auth.type and .kwargs
        except (ImportError, TypeError, ValueError, KeyError) as exc:
            raise InvalidInput(f"dask config gateway.auth cannot be used: {exc}") from None
    if kind == "none":
        return auth.BasicAuth(username=os.environ.get(USER_ENV) or getpass.getuser())
    if kind == "simple":
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            raise InvalidInput(f"gateway auth 'simple' needs the gateway's password: {PASSWORD_ENV} {missing}")
        return auth.BasicAuth(username=os.environ.get(USER_ENV) or getpass.getuser(), password=password)
    if kind == "jupyterhub":
        token = os.environ.get(TOKEN_ENV)
        if not token:
            raise InvalidInput(f"gateway auth 'jupyterhub' needs a JupyterHub API token: {TOKEN_ENV} {missing}")
        return auth.JupyterHubAuth(api_token=token)
    try:
        return auth.KerberosAuth()
    except ImportError:
        raise InvalidInput(
            "gateway auth 'kerberos' needs pykerberos (pip install 'dask-gateway[kerberos]') and a ticket (kinit)"
        ) from None


def _plain(text: object, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _call(spec: ClusterSpec, doing: str, action: Callable[[], T]) -> T:
    """Run one exchange with the gateway; what goes wrong comes out as one line that names the gateway."""
    import aiohttp
    from dask_gateway import GatewayClusterError, GatewayServerError

    address = spec.address
    try:
        return action()
    except aiohttp.ClientResponseError as exc:
        if exc.status in (401, 403):
            how = f"auth {spec.auth}" if spec.auth else "auth as dask config gateway.auth says"
            raise InvalidInput(
                f"the Dask Gateway at {address} refused the credentials ({how}) while {doing}: check the "
                f"password or token in the environment ({PASSWORD_ENV}, {TOKEN_ENV}) and the auth kind"
            ) from None
        raise MLOpsError(f"the Dask Gateway at {address} answered {exc.status} while {doing}") from None
    except (aiohttp.ClientConnectionError, OSError, TimeoutError) as exc:
        raise InvalidInput(
            f"could not reach a Dask Gateway at {address} while {doing} ({type(exc).__name__}: {_plain(exc)}); "
            "check the URL and that the gateway runs"
        ) from None
    except ValueError as exc:  # the gateway's 404 and 422: an unknown cluster, options it refused
        reason = _plain(exc)
        if not reason or reason.startswith("<"):  # nothing, or a web page: not a gateway's answer
            reason = "no reason a gateway gives; is this the URL of a Dask Gateway?"
        raise InvalidInput(f"the Dask Gateway at {address} refused {doing}: {reason}") from None
    except (GatewayClusterError, GatewayServerError) as exc:
        raise MLOpsError(f"the Dask Gateway at {address} could not finish {doing}: {_plain(exc)}") from None


def _quiet(gateway: Any) -> None:
    """Close a client of the gateway for good: dask-gateway closes it again when it is collected, and that second
    close raises (a warning in the log) once its loop has stopped."""
    with contextlib.suppress(Exception):
        gateway.close()
    gateway.__dict__.pop("_asynchronous", None)  # its __del__ closes only when this attribute is there


@contextlib.contextmanager
def session(spec: ClusterSpec, where: str) -> Iterator[Any]:
    """A ``dask_gateway.Gateway`` for the spec's gateway, closed afterwards."""
    import aiohttp
    from dask_gateway import Gateway

    auth = _auth(spec.auth, where)
    try:
        gateway = Gateway(address=spec.address, auth=auth)
    except ValueError as exc:
        raise InvalidInput(f"the Dask Gateway address {spec.address!r} cannot be used: {_plain(exc)}") from None
    # A gateway nobody answers for fails in seconds, not after aiohttp's 5 minutes; its long polls (a cluster
    # starting) keep no overall limit: the gateway's own start timeout ends them.
    gateway._request_kwargs["timeout"] = aiohttp.ClientTimeout(sock_connect=CONNECT_TIMEOUT_S)
    try:
        yield gateway
    finally:
        _quiet(gateway)


def _options(gateway: Any, spec: ClusterSpec) -> Any:
    """The gateway's cluster options with the spec's values set; a name or value it does not offer is refused."""
    options = _call(spec, "reading its cluster options", gateway.cluster_options)
    offered = list(options)
    for key, value in spec.options.items():
        if key not in offered:
            choices = ", ".join(f"{name} (now {options[name]!r})" for name in offered) or "none"
            raise InvalidInput(f"the Dask Gateway at {spec.address} has no cluster option {key!r}; it offers: {choices}")
        try:
            options[key] = value
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"cluster option {key}={value!r} is refused by the gateway: {_plain(exc)}") from None
    return options


def submit(gateway: Any, spec: ClusterSpec) -> str:
    """Ask the gateway for a new cluster with the spec's options; its name, at once (it starts in the gateway)."""
    options = _options(gateway, spec)
    return _call(spec, "starting a cluster", lambda: gateway.submit(cluster_options=options))


def connect(gateway: Any, spec: ClusterSpec, name: str) -> Any:
    """The ``GatewayCluster`` named ``name``, once it runs; closing it leaves the cluster running."""
    return _call(spec, f"connecting to cluster {name}", lambda: gateway.connect(name, shutdown_on_close=False))


def find(gateway: Any, spec: ClusterSpec, name: str) -> bool:
    """Whether the gateway still has the cluster ``name`` pending or running (after a controller restart)."""
    from dask_gateway.client import ClusterStatus

    def report() -> Any:
        try:
            return gateway.get_cluster(name)
        except ValueError:  # 404: the gateway does not know it (any more)
            return None

    found = _call(spec, f"looking for cluster {name}", report)
    return found is not None and found.status in (ClusterStatus.PENDING, ClusterStatus.RUNNING)


def stop(gateway: Any, spec: ClusterSpec, name: str) -> None:
    _call(spec, f"stopping cluster {name}", lambda: gateway.stop_cluster(name))


def scale(cluster: Any, spec: ClusterSpec, count: int) -> None:
    """Ask the gateway for ``count`` workers; one it will not give (over its limits) is refused here."""
    import warnings

    from dask_gateway import GatewayWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GatewayWarning)
        _call(spec, f"scaling cluster {cluster.name}", lambda: cluster.scale(count))
    for warning in caught:
        if issubclass(warning.category, GatewayWarning):
            raise InvalidInput(f"the Dask Gateway at {spec.address} did not scale to {count}: {_plain(warning.message)}")


def wait_for_workers(cluster: Any, count: int, timeout: float = START_TIMEOUT_S) -> None:
    """Wait until the gateway cluster has ``count`` workers (the gateway tells its handle of each one)."""
    import time

    deadline = time.monotonic() + timeout
    while len(cluster.scheduler_info.get("workers", {})) < count:
        if time.monotonic() > deadline:
            raise MLOpsError(f"the gateway cluster {cluster.name} did not reach {count} worker(s) within {timeout:g} s")
        time.sleep(0.2)


def close(cluster: Any, shutdown: bool) -> None:
    """Close our handle on a gateway cluster; ``shutdown``: the cluster itself stops too."""
    try:
        cluster.close(shutdown=shutdown)
    finally:
        _quiet(cluster.gateway)
        cluster.__dict__.pop("gateway", None)  # its __del__ closes it again only while it holds its gateway


def start(
    spec: ClusterSpec,
    where: str,
    named: Callable[[str], None] | None = None,
    shutdown_on_close: bool = False,
    wait: bool = True,
) -> Any:
    """A new cluster from the gateway, scaled to the spec's workers (``wait``: once they have joined): its
    ``GatewayCluster``.

    ``named`` is told its scheduler address (which ends in the gateway's name for it) before the cluster runs, so
    a caller that dies while it starts can still find it; if the start fails, the cluster is stopped.
    """
    with session(spec, where) as gateway:
        name = submit(gateway, spec)
        if named is not None:
            named(f"{gateway.proxy_address}/{name}")
        cluster = None
        try:
            cluster = connect(gateway, spec, name)
            cluster.shutdown_on_close = shutdown_on_close
            scale(cluster, spec, spec.workers)
            if wait:
                wait_for_workers(cluster, spec.workers)
        except BaseException:
            with contextlib.suppress(Exception):
                if cluster is not None:
                    close(cluster, shutdown=True)
                else:
                    stop(gateway, spec, name)
            raise
        return cluster


def client(spec: ClusterSpec, name: str, where: str, set_as_default: bool = True) -> Any:
    """A ``distributed.Client`` on the gateway's cluster ``name`` (its dashboard link the gateway's own); closing
    the client leaves the cluster running."""
    with session(spec, where) as gateway:
        cluster = connect(gateway, spec, name)
    return cluster.get_client(set_as_default=set_as_default)


def security(spec: ClusterSpec, name: str, where: str) -> Any:
    """The TLS credentials the gateway gives for its cluster ``name`` (what a client needs to reach it)."""
    with session(spec, where) as gateway:
        report = _call(spec, f"connecting to cluster {name}", lambda: gateway.get_cluster(name))
    if report.security is None:
        raise MLOpsError(f"the Dask Gateway at {spec.address} has no running cluster {name!r}")
    return report.security


def connection_env(scheduler_address: str, credentials: Any) -> dict[str, str]:
    """Environment with which ``distributed.Client()`` in another process connects to a gateway cluster unchanged:
    its address, its TLS credentials in dask config (in memory, as the gateway gave them), and dask_gateway
    imported by the client first (it brings the ``gateway://`` scheme)."""
    return {
        "DASK_SCHEDULER_ADDRESS": scheduler_address,
        "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": credentials.tls_cert,
        "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": credentials.tls_cert,
        "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": credentials.tls_key,
        "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True",
        "DASK_DISTRIBUTED__CLIENT__PRELOAD": "['dask_gateway']",
    }
