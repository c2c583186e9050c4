"""Several markets in one run: each country's data directory refreshed whole, side by side on Dask.

A group of several national companies has one data directory per country (or business
unit). ``crmlab run all --data data/fr data/de data/pl --out OUT`` publishes each market's
reports in ``OUT/<market>/``, ``<market>`` being its directory's name. Without a cluster
the markets run one after another. With ``--cluster`` each market is one task: a worker
runs that market's analyses (their notebooks, kernels and reports) as ``crmlab run`` would
on its own, so as many markets run at once as the cluster has worker threads. The workers
need crmlab with its notebooks, and the data and output folders at the same paths (one
shared file system). A market's own heavy loops then run in its worker's process: a
worker waiting on tasks it submitted to its own busy cluster could wait for ever.
"""

from __future__ import annotations

from pathlib import Path

from crmlab.distributed import ClusterError, backend, check_spec
from crmlab.runner import RunError, run_analyses


def market_names(data_dirs) -> list[str]:
    """Each data directory's name, the folder its reports go to; :class:`RunError` if two share one.

    Examples
    --------
    >>> market_names(["data/fr", "/srv/crm/de/"])
    ['fr', 'de']
    """
    names = [Path(d).resolve().name for d in data_dirs]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise RunError(f"several data directories are named {', '.join(map(repr, twice))}: each market's "
                       "reports go to OUT/<directory name>, so the names must differ")
    return names


def run_markets(analyses: list[str], data_dirs, *, out_dir: str | Path = "reports", params_file=None,
                overrides: dict | None = None, notebooks_dir=None, progress: bool = True,
                cluster=None) -> dict[str, list[Path]]:
    """Run ``analyses`` on every data directory, each market's reports in ``OUT/<market>``.

    Parameters
    ----------
    analyses : list of str
    data_dirs : list of str or Path
        One data directory per market; their names must differ.
    out_dir, params_file, overrides, notebooks_dir, progress
        As in :func:`crmlab.runner.run_analyses` (the parameters apply to every market).
    cluster : str or distributed.Client, optional
        '' or None: one market after another, in this process. ``local``, ``local:N`` or a
        scheduler address (or a connected client): one task per market on that cluster.

    Returns
    -------
    dict
        Each market's published analysis folders (in ``OUT/<market>``, with its ``index.html``).

    Raises
    ------
    RunError
        After every market ran, if an analysis of any failed (each failure named by market).
    """
    names = market_names(data_dirs)
    out = Path(out_dir)
    options = dict(analyses=list(analyses), params_file=params_file, overrides=overrides,
                   notebooks_dir=notebooks_dir)
    try:
        if cluster is None or isinstance(cluster, str) and not check_spec(cluster):
            outcomes = []
            for name, data_dir in zip(names, data_dirs):
                if progress:
                    print(f"market {name} ({data_dir})", flush=True)
                outcomes.append(_run_market(str(data_dir), str(out / name), progress=progress, **options))
        else:
            with backend(cluster) as state:
                futures = state.client.map(_run_market, [str(d) for d in data_dirs], [str(out / n) for n in names],
                                           progress=False, pure=False, **options)
                outcomes = state.client.gather(futures)
    except ClusterError as err:
        raise RunError(str(err)) from None
    failures = [f"{name}: {error}" for name, (_, error) in zip(names, outcomes) if error]
    if progress:
        for name, (_, error) in zip(names, outcomes):
            print(f"market {name}: {'FAILED' if error else 'done'} → {out / name / 'index.html'}", flush=True)
    if failures:
        raise RunError("\n  ".join([f"{len(failures)} of {len(names)} markets had failures:", *failures]))
    return {name: done for name, (done, _) in zip(names, outcomes)}


def _run_market(data_dir: str, out_dir: str, **options) -> tuple[list[Path], str | None]:
    """One market's analyses, in-process: the published folders, or the failures' message."""
    try:
        return run_analyses(data_dir=data_dir, out_dir=out_dir, cluster="", **options), None
    except RunError as err:
        return [], str(err)
