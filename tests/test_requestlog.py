"""The request log's two halves: a worker's spool files, and their conversion to Parquet segments."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_magics.serving.requestlog import SPOOL, RequestLog, SpoolConverter


def _segments(folder: Path, kind: str) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted(folder.glob(f"{kind}-*.parquet"))], ignore_index=True)


def test_numeric_and_mixed_requests_and_feedback_become_segments(tmp_path: Path) -> None:
    log = RequestLog(tmp_path, 1.0, "models:/m@champion", "3", ["a", "b"])
    numbers = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    log.record("r1", numbers, np.array([0, 1]), 1.5, 200)
    log.record("r2", numbers.iloc[:1], np.array([1]), 2.5, 200)
    log.record_feedback([{"request_id": "r1", "row": 1, "label": 1}])
    log.close()
    spooled = list((tmp_path / SPOOL).glob("*.spool"))
    assert len(spooled) == 1 and spooled[0].name.startswith(f"{os.getpid()}-")
    written = SpoolConverter(tmp_path).convert()
    assert len(written) == 2 and not list((tmp_path / SPOOL).glob("*.spool"))
    table = _segments(tmp_path, "requests")
    assert list(table.request_id) == ["r1", "r1", "r2"] and list(table.row) == [0, 1, 0]
    assert list(table["input.a"]) == [1.0, 2.0, 1.0] and list(table.prediction) == [0, 1, 1]
    assert set(table.model_version) == {"3"} and set(table.model) == {"models:/m@champion"}
    assert list(table.latency_ms) == [1.5, 1.5, 2.5] and str(table.time.dtype) == "datetime64[ns, UTC]"
    labels = _segments(tmp_path, "feedback")
    assert labels.to_dict("records")[0] | {"time": None} == {"request_id": "r1", "row": 1, "label": 1, "time": None}

    mixed = RequestLog(tmp_path, 1.0)
    mixed.record("r3", pd.DataFrame({"city": ["Oslo"], "n": [2]}), np.array([[0.2, 0.8]]), 1.0, 200)
    mixed.close()
    SpoolConverter(tmp_path).convert()
    third = _segments(tmp_path, "requests").query("request_id == 'r3'")
    assert third["input.city"].tolist() == ["Oslo"] and list(third.prediction.iloc[0]) == [0.2, 0.8]


def test_sampling_and_a_truncated_spool_file(tmp_path: Path) -> None:
    off = RequestLog(tmp_path, 0.0)
    off.record("never", pd.DataFrame({"a": [1.0]}), np.array([1]), 1.0, 200)
    off.close()
    assert not (tmp_path / SPOOL).exists() or not list((tmp_path / SPOOL).glob("*.spool"))
    log = RequestLog(tmp_path, 1.0)
    for n in range(3):
        log.record(f"r{n}", pd.DataFrame({"a": [float(n)]}), np.array([n]), 1.0, 200)
    log.close()
    (path,) = (tmp_path / SPOOL).glob("*.spool")
    path.write_bytes(path.read_bytes()[:-5])  # damaged after it was written: it ends inside its last record
    SpoolConverter(tmp_path).convert()
    assert _segments(tmp_path, "requests").request_id.tolist() == ["r0", "r1"]
    assert path.with_suffix(".bad").exists()  # kept for a look; what could be read of it is in the log


def test_string_predictions_mixed_labels_and_a_bad_file_do_not_block_the_log(tmp_path: Path) -> None:
    log = RequestLog(tmp_path, 1.0)
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    log.record("s1", frame, np.array(["setosa", "virginica"], dtype=object), 1.0, 200)
    log.record_feedback([{"request_id": "s1", "row": 0, "label": 1}, {"request_id": "s1", "row": 1, "label": "cat"}])
    log.close()
    bad = tmp_path / SPOOL / "1-00000001.spool"
    bad.write_bytes(b"R\x02\x00\x00\x00xx")  # a request frame too short to hold its header
    converter = SpoolConverter(tmp_path)
    assert len(converter.convert()) == 2
    assert converter.convert() == []  # nothing converted twice
    assert bad.with_suffix(".bad").exists() and not list((tmp_path / SPOOL).glob("*.spool"))
    assert _segments(tmp_path, "requests").prediction.tolist() == ["setosa", "virginica"]
    assert _segments(tmp_path, "feedback").label.tolist() == ["1", "cat"]
    assert len(list(tmp_path.glob("requests-*.parquet"))) == 1
