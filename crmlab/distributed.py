"""Beyond one machine: where crmlab's heavy loops run (in-process, or on a Dask cluster).

The backend is chosen once, around a run, and the analyses read it; nothing else
changes. ``spec`` (the ``--cluster`` of ``crmlab run``, the runner's ``cluster``
option, or ``$CRMLAB_CLUSTER`` in a notebook kernel the runner started) is

* ``""`` or ``None`` — in-process (the default),
* ``"local"`` — a ``dask.distributed.LocalCluster`` with one worker process per core,
  started here and closed on exit,
* ``"local:N"`` — the same with ``N`` workers,
* ``"tcp://host:8786"`` (any scheduler address) — an existing cluster; crmlab connects
  a client and leaves the cluster running on exit.

What fans out is the work that is independent row by row (or territory by territory), so
the results are those of the in-process run, value for value (``tests/test_distributed.py``
checks it):

* forecast — the statsforecast models (AutoETS, AutoARIMA, damped ETS, Croston, TSB)
  fit each series on its own: their series are split into groups, one task per group
  (:func:`map_rows` in :func:`crmlab.models.forecast.base.base_forecast`);
* churn — the model is fitted once, on the driver (a seeded subsample of snapshots);
  scoring every active entity and the occlusion reasons run by partition of entities
  (:func:`map_rows` in :func:`crmlab.models.churn.scoring.score_churn`);
* call plan — the visits are allocated by groups of whole territories, each within its own
  capacity (:func:`map_rows` with ``groups`` in :func:`crmlab.models.callplan.allocate`).

Workers need crmlab installed (the same version): functions travel by reference.

Examples
--------
>>> with backend(""):              # in-process: map_rows is a plain call
...     map_rows(lambda part: part.sum(axis=1), np.ones((4, 2)), combine=np.concatenate).tolist()
[2.0, 2.0, 2.0, 2.0]
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

#: The environment variable through which the runner hands the cluster to a notebook kernel.
ENV = "CRMLAB_CLUSTER"

__all__ = ["ENV", "Backend", "ClusterError", "active", "backend", "check_spec", "map_rows", "on_backend",
           "scheduler_address",            "spec_from_env"]


class ClusterError(ValueError):
    """A cluster spec that is not one, or a cluster that cannot be reached."""


@dataclass(frozen=True)
class Backend:
    """A connected Dask client and how finely rows are split for it.

    Attributes
    ----------
    client : distributed.Client
    min_rows : int or None
        Below this many rows a call stays in-process; None: each call's own threshold
        (:func:`map_rows`), which weighs a row's work against a task's milliseconds.
    parts_per_worker : int
        Row groups per worker thread, so that a slow group does not idle the others.
    """

    client: Any
    min_rows: int | None = None
    parts_per_worker: int = 2

    @property
    def n_parts(self) -> int:
        threads = sum(self.client.nthreads().values()) or 1
        return threads * self.parts_per_worker


_ACTIVE: contextvars.ContextVar[Backend | None] = contextvars.ContextVar("crmlab_backend", default=None)


def active() -> Backend | None:
    """The backend of the enclosing :func:`backend` block (None: in-process)."""
    return _ACTIVE.get()


def spec_from_env() -> str:
    """``$CRMLAB_CLUSTER``, stripped ('' when unset)."""
    return os.environ.get(ENV, "").strip()


def check_spec(spec: str | None) -> str:
    """``spec`` stripped, or :class:`ClusterError` naming what is accepted.

    Examples
    --------
    >>> check_spec(" local:2 "), check_spec("tcp://10.0.0.5:8786"), check_spec(None)
    ('local:2', 'tcp://10.0.0.5:8786', '')
    >>> check_spec("yarn")
    Traceback (most recent call last):
    ...
    crmlab.distributed.ClusterError: cluster 'yarn' is not one: use 'local', 'local:N' (N workers) or a scheduler address such as tcp://host:8786
    """
    spec = (spec or "").strip()
    if not spec or "://" in spec:
        return spec
    if spec == "local":
        return spec
    head, colon, count = spec.partition(":")
    if head == "local" and colon and count.isdigit() and int(count) > 0:
        return spec
    raise ClusterError(f"cluster {spec!r} is not one: use 'local', 'local:N' (N workers) or a scheduler "
                       "address such as tcp://host:8786")


@contextlib.contextmanager
def backend(spec=None, *, min_rows: int | None = None, processes: bool = True,
            threads_per_worker: int = 1, timeout: float = 30) -> Iterator[Backend | None]:
    """Run the enclosed block on ``spec``'s backend (see the module docstring).

    ``spec`` may also be a ``distributed.Client`` (kept open on exit). ``spec=None`` reads
    ``$CRMLAB_CLUSTER``. A nested block with an empty spec keeps the outer backend.
    ``processes=False`` runs a local cluster's workers as threads of this process (tests).

    Raises
    ------
    ClusterError
        The spec is not one, or the scheduler cannot be reached within ``timeout`` seconds.
    """
    if spec is not None and not isinstance(spec, str):  # a connected client
        token = _ACTIVE.set(Backend(spec, min_rows))
        try:
            yield _ACTIVE.get()
        finally:
            _ACTIVE.reset(token)
        return
    spec = check_spec(spec_from_env() if spec is None else spec)
    if not spec:
        yield active()
        return
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if spec.startswith("local"):
            workers = int(spec.partition(":")[2] or (os.cpu_count() or 1))
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=threads_per_worker, processes=processes,
                dashboard_address=":0", silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(spec, timeout=timeout))
            except (OSError, TimeoutError) as err:
                raise ClusterError(f"cannot reach the Dask scheduler at {spec}: {err}") from None
        token = _ACTIVE.set(Backend(client, min_rows))
        try:
            yield _ACTIVE.get()
        finally:
            _ACTIVE.reset(token)


def on_backend(run: Callable) -> Callable:
    """An analysis' ``run()`` that also takes ``cluster=`` (a spec or client; default
    ``$CRMLAB_CLUSTER``, else in-process) and runs inside :func:`backend`."""
    @functools.wraps(run)
    def wrapper(*args, cluster=None, **kwargs):
        with backend(cluster):
            return run(*args, **kwargs)
    return wrapper


@contextlib.contextmanager
def scheduler_address(spec: str | None) -> Iterator[str]:
    """The address a notebook kernel connects to: a local cluster's, started here for
    the block's duration, or ``spec`` itself (an address, or '' for in-process)."""
    spec = check_spec(spec)
    if not spec.startswith("local"):
        yield spec
        return
    from distributed import LocalCluster

    workers = int(spec.partition(":")[2] or (os.cpu_count() or 1))
    with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster:
        yield cluster.scheduler_address


def _split(data, n_parts: int, groups=None) -> list:
    edges = np.linspace(0, len(data), n_parts + 1).astype(int)
    if groups is not None:  # each cut moved forward to the next group's first row
        groups = np.asarray(groups)
        bounds = np.r_[np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]]), len(groups)]
        edges = np.unique(bounds[np.searchsorted(bounds, edges)])
    take = data.iloc if isinstance(data, (pd.DataFrame, pd.Series)) else data
    return [take[a:b] for a, b in zip(edges[:-1], edges[1:]) if b > a]


def map_rows(func: Callable, data, *args, combine: Callable[[list], Any], min_rows: int = 1000,
             groups=None, **kwargs):
    """``func(data, *args, **kwargs)``, computed by groups of rows on the active backend.

    In-process (no active backend, or fewer than ``min_rows`` rows, the backend's own
    ``min_rows`` when it has one) this is the plain call. On a cluster ``data`` (an array or
    DataFrame) is cut into contiguous row groups, ``args``/``kwargs`` are sent to the workers
    once, ``func`` runs on each group and ``combine`` joins the results in row order. ``func``
    must treat rows independently: then the result is the plain call's. With ``groups`` (one
    label per row, equal labels adjacent, e.g. the territory of doctors sorted by territory)
    rows are cut only between groups, and ``func`` need only treat groups independently.
    """
    state = active()
    threshold = min_rows if state is None or state.min_rows is None else state.min_rows
    if state is None or len(data) < max(threshold, 2):
        return func(data, *args, **kwargs)
    parts = _split(data, min(state.n_parts, len(data)), groups)
    if len(parts) == 1:
        return func(data, *args, **kwargs)
    client = state.client
    shared_args, shared_kwargs = client.scatter([args, kwargs], broadcast=True, hash=False)
    part_futures = client.scatter(parts, hash=False)  # held until gathered: the tasks depend on them
    futures = client.map(_call, part_futures, function=func, args=shared_args,
                         kwargs=shared_kwargs, pure=False)
    results = client.gather(futures)
    del part_futures, shared_args, shared_kwargs
    return combine(results)


def _call(part, *, function: Callable, args: tuple, kwargs: dict):
    return function(part, *args, **kwargs)
