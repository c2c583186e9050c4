"""Results shared between the analyses of one refresh: what another analysis builds on runs once.

The drivers bridge and the call plan build on attribution's visit and event effects. In
``crmlab run all`` each analysis runs in its own kernel, so without sharing the national
refresh fitted attribution's designs three times. :func:`crmlab.runner.run_analyses`
gives its kernels a private folder in ``$CRMLAB_SHARED`` (removed when the refresh
ends); an analysis run there keeps its result in it, and a later analysis asking for the
same result on the same data version gets it back instead of fitting it again.

A result is found again only for the same data version (:attr:`crmlab.io.Dataset.version`,
the hash of the files, the load options and the merged duplicates), the same parameters
(those that say how to load the data excepted: the version holds them) and the same
crmlab code. A dataset without a version (the cache off, a small directory, tables passed
as a mapping, a table replaced after loading) shares nothing. Outside a refresh
``$CRMLAB_SHARED`` is unset and nothing is kept, unless the user sets it to a folder of
their own.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from crmlab.analyses.base import Params

#: The environment variable naming the folder of shared results.
ENV = "CRMLAB_SHARED"
#: Parameters that say how to load the data: the data version already holds them.
LOAD_PARAMS = ("encoding", "allow_rejects", "merge_duplicates")


def result_path(name: str, data, params: Params) -> Path | None:
    """Where analysis ``name``'s result on ``data`` with ``params`` is kept, or None (not shared).

    Examples
    --------
    >>> from crmlab.analyses.attribution import AttributionParams
    >>> result_path("attribution", {"accounts": None}, AttributionParams()) is None  # no data version
    True
    """
    folder, version = os.environ.get(ENV, "").strip(), getattr(data, "version", None)
    if not folder or not version:
        return None
    fitting = {k: v for k, v in dataclasses.asdict(params).items() if k not in LOAD_PARAMS}
    key = json.dumps([version, name, _code_version(), fitting], sort_keys=True, default=str)
    return Path(folder) / f"{name}-{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}.pkl"


def find(name: str, data, params: Params):
    """The result ``name`` kept for ``data`` and ``params`` in this refresh, or None."""
    path = result_path(name, data, params)
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            result = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    return dataclasses.replace(result, params=params)


def shared(name: str, data, params: Params, compute: Callable[[], object]):
    """``compute()``, or the same result already computed in this refresh; kept for later ones.

    A folder that cannot be written is ignored: the result is then just computed.
    """
    found = find(name, data, params)
    if found is not None:
        return found
    result = compute()
    path = result_path(name, data, params)
    if path is not None:
        _keep(result, path)
    return result


def _keep(result, path: Path) -> None:
    staging = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.stem}-", delete=False) as handle:
            staging = Path(handle.name)
            pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(staging, path)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        if staging is not None:
            staging.unlink(missing_ok=True)


@functools.cache
def _code_version() -> str:
    """crmlab's own source and the numeric libraries' versions: new code computes anew."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.blake2b(f"{np.__version__} {pd.__version__}".encode(), digest_size=12)
    for source in sorted(root.rglob("*.py")):
        digest.update(str(source.relative_to(root)).encode() + source.read_bytes())
    return digest.hexdigest()
