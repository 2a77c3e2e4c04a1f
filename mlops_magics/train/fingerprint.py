"""A data fingerprint: content hash, schema and rows — enough to tell later which data trained a model."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd


def fingerprint(data: Any) -> dict[str, Any]:
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, pd.DataFrame):
        hashes = pd.util.hash_pandas_object(data, index=False).to_numpy()
        schema = {str(c): str(t) for c, t in data.dtypes.items()}
    else:
        array = np.asarray(data)
        frame = pd.DataFrame(array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1))
        hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        schema = {"array": f"{array.dtype}{list(array.shape[1:])}"}
    digest = hashlib.sha256(hashes.tobytes())
    digest.update(repr(sorted(schema.items())).encode())
    return {"sha256": digest.hexdigest()[:16], "rows": len(hashes), "schema": schema}
