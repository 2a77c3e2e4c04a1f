"""The scoring server under hostile and broken clients, over a real deployment process on a real port: every
JSON shape, wrong types, NaN/inf/null, deep nesting, invalid UTF-8, wrong content types, chunked and oversized
bodies (hypothesis); bodies cut at the limit on every route and the 413 read by a client that does not wait for
``100-continue``; idle and slow connections; /metrics counting client errors as 4xx and model failures as 5xx.

The property: no 5xx from anything a client sends, the server answers after every case, and a worker's memory
stays bounded. ``MLOPS_FUZZ_SERVING_EXAMPLES`` sets the number of generated cases (1000 in ``make test``;
``make fuzz`` runs 20000).
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_magics.workspace import Workspace
from tests.deployment_process import DeploymentProcess, peak_rss, register_penguins, save_faulty, start
from tests.test_serving_inputs import BASE

LIMIT = 64 * 2**10  # the deployments' body limit here: oversized cases stay cheap
TIMEOUT = 2.0  # for request headers, and for a pause in a body
CAP = 64  # connections per worker
EXAMPLES = int(os.environ.get("MLOPS_FUZZ_SERVING_EXAMPLES", "1000"))
COLUMNS = list(BASE)
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def fuzz_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    home = tmp_path_factory.mktemp("fuzz") / ".mlops"
    os.environ["MLOPS_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    workspace = Workspace(home)
    register_penguins(workspace)
    yield workspace
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI: left set, the next module's workspace would use this store.
    os.environ.pop("MLOPS_HOME", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(scope="module")
def penguins(fuzz_workspace: Workspace) -> Iterator[DeploymentProcess]:
    limits = [
        "--max-body",
        str(LIMIT),
        "--max-connections",
        str(CAP),
        "--header-timeout",
        str(TIMEOUT),
        "--body-timeout",
        str(TIMEOUT),
    ]
    deployment = start(fuzz_workspace, "penguins", "penguins/1", *limits)
    yield deployment
    deployment.stop()


def post(deployment: DeploymentProcess, path: str, body: bytes | Iterator[bytes], headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{deployment.url}{path}", content=body, headers=headers, timeout=60)


def chunks(total: int, size: int = 2**20) -> Iterator[bytes]:
    """A body sent chunked (no Content-Length), as JSON whitespace: valid until it is too long."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b" " * piece


# --- the reported cases ---------------------------------------------------------------------------------


def test_records_mixed_with_non_records_are_a_400_naming_the_format(penguins: DeploymentProcess) -> None:
    """Issue 10, defect 4: ``{"instances":[{},1]}`` was a bare 500 (an AttributeError inside pandas)."""
    for body in (b'{"instances":[{},1]}', b'{"inputs":[{"island":"Dream"},2]}', b'{"dataframe_records":[{},[1]]}'):
        answer = post(penguins, "/invocations", body, JSON)
        assert answer.status_code == 400, answer.text
        assert "a list of records, each an object" in answer.json()["message"]


def test_nan_inf_and_null_in_number_columns_are_answered_or_named(penguins: DeploymentProcess) -> None:
    """NaN and null where the pipeline imputes are answered; infinity, which no imputer takes, is a 422 that
    names its column; null in an integer column is a 422 that says why. Never a 500."""
    for value in ("NaN", "null"):
        body = json.dumps({"dataframe_records": [BASE]}).replace("47.5", value).encode()
        assert post(penguins, "/invocations", body, JSON).status_code == 200
    for value in ("Infinity", "-Infinity", "1e999"):
        body = json.dumps({"dataframe_records": [BASE]}).replace("214.0", value).encode()
        answer = post(penguins, "/invocations", body, JSON)
        assert answer.status_code == 422, answer.text
        assert "flipper_length_mm has infinite values" in answer.json()["message"]
    answer = post(penguins, "/invocations", json.dumps({"dataframe_records": [{**BASE, "year": None}]}).encode(), JSON)
    assert answer.status_code == 422 and "an integer column cannot hold missing values" in answer.json()["message"]
    answer = post(penguins, "/invocations", json.dumps({"dataframe_records": [{**BASE, "year": 2**64 - 1}]}).encode(), JSON)
    assert answer.status_code == 422 and "year (expected integer)" in answer.json()["message"], answer.text


@pytest.mark.parametrize("path", ["/invocations", "/feedback"])
def test_a_chunked_body_is_cut_at_the_limit_not_held_whole(penguins: DeploymentProcess, path: str) -> None:
    """Issue 10, defect 3: a chunked upload (no Content-Length) was read whole before the 413 (300 MB took a
    worker from 254 to 840 MB); /feedback had no limit at all. 64 MB here, against a 64 KiB limit."""
    warm = post(penguins, "/invocations", json.dumps({"dataframe_records": [BASE] * 50}).encode(), JSON)
    assert warm.status_code == 200
    worker = penguins.worker()
    before = peak_rss(worker)
    began = time.monotonic()
    answer = post(penguins, path, chunks(64 * 2**20), JSON)
    assert answer.status_code == 413, answer.text
    assert f"over the limit of {LIMIT:,} bytes" in answer.json()["message"]
    assert peak_rss(worker) - before < 16 * 2**20, "the body was held in memory"
    assert time.monotonic() - began < 30
    assert post(penguins, "/invocations", json.dumps({"dataframe_records": [BASE]}).encode(), JSON).status_code == 200


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_the_413_reaches_a_client_that_does_not_wait_for_100_continue(penguins: DeploymentProcess, chunked: bool) -> None:
    """Python's urllib sends its whole body, with ``Connection: close``, before it reads an answer: the server
    must read (and drop) the rest of the body before it answers and closes, or the client sees a reset."""
    body: Any = (b" " * 2**20 for _ in range(8)) if chunked else b" " * (8 * 2**20)
    for path in ("/invocations", "/feedback"):
        request = urllib.request.Request(f"{penguins.url}{path}", data=body, headers=JSON, method="POST")
        if chunked:
            request.add_header("Transfer-Encoding", "chunked")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 413
        assert "over the limit" in json.loads(refused.value.read())["message"]
        body = (b" " * 2**20 for _ in range(8)) if chunked else body


def test_a_client_that_waits_for_100_continue_sends_no_body(penguins: DeploymentProcess) -> None:
    """With ``Expect: 100-continue`` and a length over the limit, the 413 comes before any byte of the body."""
    with socket.create_connection(("127.0.0.1", penguins.port), timeout=10) as raw:
        raw.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 300000000\r\nExpect: 100-continue\r\n\r\n"
        )
        head = raw.recv(4096)
    assert head.startswith(b"HTTP/1.1 413"), head


def test_idle_and_slow_connections_are_closed_and_capped(penguins: DeploymentProcess) -> None:
    """300 connections opened and left idle stayed open for good. Now a worker holds at most ``CAP`` (one more
    is answered 503 at once), and closes each that has not sent its request headers within ``TIMEOUT`` s; one
    sending its headers slowly gets a 408."""
    worker = penguins.worker()
    began = time.monotonic()
    slow = socket.create_connection(("127.0.0.1", penguins.port), timeout=10)
    idle = [socket.create_connection(("127.0.0.1", penguins.port), timeout=10) for _ in range(300)]
    slow.sendall(b"POST /invocations HTTP/1.1\r\nHost")
    time.sleep(0.5)
    held = [c for c in worker.net_connections("tcp") if c.status == "ESTABLISHED" and c.laddr.port == penguins.port]
    assert len(held) <= CAP
    for connection in idle[CAP - 1 :]:
        answer = connection.recv(4096)
        assert answer.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in answer, answer
    for connection in idle[: CAP - 1]:
        assert connection.recv(4096) == b""  # closed by the server, with nothing said: nothing was asked
    assert slow.recv(4096).startswith(b"HTTP/1.1 408")
    assert time.monotonic() - began < TIMEOUT + 3
    for connection in [*idle, slow]:
        connection.close()
    assert httpx.get(f"{penguins.url}/ping").status_code == 200


def until_closed(raw: socket.socket) -> bytes:
    """All the server sends until it closes (headers and body may come in separate segments)."""
    received = b""
    while chunk := raw.recv(4096):
        received += chunk
    return received


def test_a_stalled_body_is_a_408(penguins: DeploymentProcess) -> None:
    """Headers sent, then a body that stops: answered 408 after the body timeout, not held open."""
    with socket.create_connection(("127.0.0.1", penguins.port), timeout=30) as raw:
        raw.sendall(b"POST /feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        began = time.monotonic()
        head = until_closed(raw)
    assert head.startswith(b"HTTP/1.1 408") and b"the body stalled" in head, head
    assert TIMEOUT - 0.5 < time.monotonic() - began < TIMEOUT + 3


# --- /metrics ---------------------------------------------------------------------------------------------


def statuses(deployment: DeploymentProcess) -> Counter[str]:
    text = httpx.get(f"{deployment.url}/metrics").text
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("mlops_requests_total{"):
            status = line.split('status="')[1].split('"')[0]
            counts[status] = int(float(line.split()[-1]))
    return counts


def by_class(counts: Counter[str]) -> Counter[str]:
    classes: Counter[str] = Counter()
    for status, n in counts.items():
        classes[status[0] + "xx" if status.isdigit() else status] += n
    return classes


def test_metrics_count_client_errors_as_4xx_and_model_failures_as_5xx(fuzz_workspace: Workspace, tmp_path_factory) -> None:
    model = save_faulty(tmp_path_factory.mktemp("faulty"))
    faulty = start(fuzz_workspace, "faulty", str(model), "--max-body", str(LIMIT))
    try:
        good = {"dataframe_records": [BASE]}
        sent = [
            (json.dumps(good).encode(), 200),
            (json.dumps(good).encode(), 200),
            (b'{"instances":[{},1]}', 400),  # was an uncounted bare 500
            (b'{"dataframe_records": [', 400),
            (json.dumps({"dataframe_records": [{"nope": 1}]}).encode(), 422),
            (b" " * (LIMIT + 1), 413),
            (json.dumps({"dataframe_records": [{**BASE, "body_mass_g": 20_000}]}).encode(), 500),  # the model's own bug
            (json.dumps({"dataframe_records": [BASE, {**BASE, "body_mass_g": 1e9}]}).encode(), 500),
        ]
        for body, status in sent:
            answer = post(faulty, "/invocations", body, JSON)
            assert answer.status_code == status, answer.text
        answer = post(faulty, "/invocations", chunks(4 * LIMIT, 4096), JSON)
        assert answer.status_code == 413
        assert "the model failed on this input (RuntimeError)" in post(faulty, "/invocations", sent[-1][0], JSON).text
        counted = statuses(faulty)
        assert by_class(counted) == Counter({"2xx": 2, "4xx": 5, "5xx": 3}), counted
        assert counted["413"] == 2 and counted["400"] == 2 and counted["422"] == 1
    finally:
        faulty.stop()


# --- generated cases ---------------------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and ±infinity included
    st.text(max_size=12),
    st.sampled_from(["Biscoe", "Dream", "female", "nan", "inf", "-Infinity", " 47.5 ", "", "\ud800", "1e400", "2008.5"]),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8
)
names = st.sampled_from(COLUMNS) | st.text(max_size=8)
# A good row with a value or two changed or left out, any row of the columns, anything named anyhow.
near = st.builds(
    lambda changes, out: {k: v for k, v in {**BASE, **changes}.items() if k != out},
    st.dictionaries(st.sampled_from(COLUMNS), scalars, max_size=2),
    st.none() | st.sampled_from(COLUMNS),
)
record = near | st.fixed_dictionaries({c: scalars for c in COLUMNS}) | st.dictionaries(names, values, max_size=8)
rows = st.lists(near, min_size=1, max_size=4) | st.lists(record | values, max_size=4)
table = st.lists(st.lists(scalars | values, max_size=7), max_size=4)
formats = st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs"])
payloads = st.one_of(
    st.builds(lambda f, r: {f: r}, formats, rows),
    st.builds(lambda f, t: {f: t}, st.sampled_from(["instances", "inputs"]), table),
    st.builds(
        lambda c, t: {"dataframe_split": {"columns": c, "data": t}},
        st.just(COLUMNS) | st.lists(names | values, max_size=8),
        table,
    ),
    st.builds(lambda d: {"inputs": d}, st.dictionaries(names, st.lists(scalars, max_size=3) | scalars, max_size=7)),
    st.dictionaries(formats | st.text(max_size=8), values, max_size=3),
    values,
)
feedbacks = st.one_of(
    st.fixed_dictionaries({"request_id": st.text(max_size=8) | st.integers(), "label": scalars}, optional={"row": scalars}),
    st.lists(
        st.dictionaries(st.sampled_from(["request_id", "label", "row"]) | st.text(max_size=4), values, max_size=4), max_size=4
    ),
    values,
)
# Content types a client might send, right and wrong.
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/csv", "text/plain", "", "application/x-www-form-urlencoded"]
) | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


def _json_text(payload: Any) -> bytes:
    return json.dumps(payload, allow_nan=True).encode()  # NaN, Infinity and "\ud800" as Python writes them


def _csv(payload: Any) -> bytes:
    """The rows of a payload (whatever they are) as CSV lines under the model's header."""
    found = next(iter(payload.values()), None) if isinstance(payload, dict) else payload
    rows = found if isinstance(found, list) else [found]
    cells = [[r.get(c, "") for c in COLUMNS] if isinstance(r, dict) else r if isinstance(r, list) else [r] for r in rows]
    lines = [",".join(COLUMNS)] + [",".join(map(str, row)) for row in cells]
    return "\n".join(lines).encode("utf-8", "surrogatepass")


bodies = st.one_of(
    st.builds(_json_text, payloads),
    st.builds(_csv, payloads),
    st.binary(max_size=200),  # invalid UTF-8, truncated JSON, nothing
    st.builds(
        lambda n, open_: open_ * n, st.integers(1, 200_000), st.sampled_from([b"[", b'{"a":', b'{"instances":['])
    ),  # deep nesting
    st.builds(lambda n: _json_text({"dataframe_records": [BASE] * n}), st.integers(LIMIT // 150, LIMIT // 100)),  # near the limit
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str], bool]:
    path = draw(st.sampled_from(["/invocations", "/invocations", "/invocations", "/feedback"]))
    body = draw(bodies) if path == "/invocations" else draw(st.builds(_json_text, feedbacks) | bodies)
    content_type = (
        draw(content_types).strip() if draw(st.booleans()) else ("text/csv" if body[:6] == b"island" else "application/json")
    )
    headers = {"Content-Type": content_type} if content_type else {}
    return path, body, headers, draw(st.booleans())


def test_no_client_input_gets_a_5xx(penguins: DeploymentProcess) -> None:
    client = httpx.Client(timeout=60)  # one client: a new one per case costs more than the case
    worker = penguins.worker()
    before_counts, rss_before = statuses(penguins), worker.memory_info().rss
    seen: Counter[int] = Counter()
    scored: Counter[str] = Counter()
    failures: list[str] = []
    began = time.monotonic()

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(requests())
    def one(case: tuple[str, bytes, dict[str, str], bool]) -> None:
        path, body, headers, chunked = case
        sent: Any = iter([body[i : i + 8192] for i in range(0, len(body), 8192)] or [b""]) if chunked else body
        answer = client.post(f"{penguins.url}{path}", content=sent, headers=headers)
        seen[answer.status_code] += 1
        if path == "/invocations":
            scored[f"{answer.status_code // 100}xx"] += 1
        if answer.status_code >= 500:
            failures.append(f"{answer.status_code} {answer.text[:200]} <- {path} {headers} {body[:200]!r}")
        assert answer.status_code < 500, failures[-1]
        if answer.status_code >= 400 and answer.headers.get("content-type") == "application/json":
            message = answer.json()["message"]
            assert message and "\n" not in message and "Traceback" not in message

    one()
    client.close()
    elapsed = time.monotonic() - began
    assert httpx.get(f"{penguins.url}/ping").status_code == 200
    assert penguins.worker().pid == worker.pid, "the worker was replaced: it crashed"
    grown = worker.memory_info().rss - rss_before
    print(
        f"\nfuzz: {sum(seen.values())} cases in {elapsed:.1f} s; statuses {dict(sorted(seen.items()))}; worker RSS "
        f"{rss_before / 2**20:.0f} -> {worker.memory_info().rss / 2**20:.0f} MB (peak {peak_rss(worker) / 2**20:.0f} MB)"
    )
    assert grown < 64 * 2**20, f"the worker grew by {grown / 2**20:.0f} MB"
    counted = by_class(statuses(penguins)) - by_class(before_counts)
    assert counted == scored, (counted, scored)
    assert failures == []
