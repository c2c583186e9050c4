"""Clusters of records linked as duplicates, each with a proposed surviving ID."""

from __future__ import annotations

import numpy as np
import pandas as pd


def duplicate_clusters(pairs: pd.DataFrame, activity: pd.DataFrame,
                       threshold: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Group the IDs linked by pairs at or above ``threshold``; propose a surviving ID.

    Parameters
    ----------
    pairs : DataFrame
        ``DuplicateModel.pairs_``.
    activity : DataFrame
        ``visits`` and ``volume`` per ID (index); the survivor of a cluster is the ID
        with the most visits, then the most volume, then the smallest ID.
    threshold : float

    Returns
    -------
    duplicates : DataFrame
        ``id, duplicate_of, match_probability, evidence``: one row per linked pair,
        ``id`` the one to merge (not the survivor; of two non-survivors the less active).
    clusters : DataFrame
        ``cluster, id, surviving_id, size, visits, volume``: every ID of a cluster of two
        or more, clusters numbered by decreasing volume.

    Examples
    --------
    >>> pairs = pd.DataFrame({"id_l": ["A", "B"], "id_r": ["B", "C"],
    ...     "match_weight": [9.0, -3.0], "match_probability": [0.998, 0.11],
    ...     "evidence": ["name=", "name≠"]})
    >>> activity = pd.DataFrame({"visits": [2, 5, 1], "volume": [10.0, 20.0, 1.0]},
    ...                         index=["A", "B", "C"])
    >>> duplicates, clusters = duplicate_clusters(pairs, activity)
    >>> duplicates[["id", "duplicate_of"]].values.tolist()
    [['A', 'B']]
    >>> clusters["surviving_id"].tolist()
    ['B', 'B']
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    linked = pairs[pairs["match_probability"] >= threshold]
    ids = pd.Index(sorted(set(linked["id_l"]) | set(linked["id_r"])))
    columns = ["cluster", "id", "surviving_id", "size", "visits", "volume"]
    if linked.empty:
        return (pd.DataFrame(columns=["id", "duplicate_of", "match_probability", "evidence"]),
                pd.DataFrame(columns=columns))
    a, b = ids.get_indexer(linked["id_l"]), ids.get_indexer(linked["id_r"])
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(ids), len(ids)))
    _, label = connected_components(graph, directed=False)
    members = pd.DataFrame({"id": ids, "component": label}).join(
        activity[["visits", "volume"]].reindex(ids).fillna(0), on="id")
    ranked = members.sort_values(["component", "visits", "volume", "id"],
                                 ascending=[True, False, False, True], kind="stable")
    rank = ranked.groupby("component").cumcount()
    survivor = ranked.groupby("component")["id"].first()
    members["surviving_id"] = members["component"].map(survivor)
    members["size"] = members.groupby("component")["id"].transform("size")
    volume = members.groupby("component")["volume"].sum().sort_values(ascending=False, kind="stable")
    members["cluster"] = members["component"].map(
        pd.Series(np.arange(1, len(volume) + 1), index=volume.index))
    clusters = members.sort_values(["cluster", "id"]).reset_index(drop=True)[columns]

    order = pd.Series(rank.to_numpy(), index=ranked["id"].to_numpy())
    left_first = order.reindex(linked["id_l"]).to_numpy() > order.reindex(linked["id_r"]).to_numpy()
    duplicates = pd.DataFrame({
        "id": np.where(left_first, linked["id_l"], linked["id_r"]),
        "duplicate_of": np.where(left_first, linked["id_r"], linked["id_l"]),
        "match_probability": linked["match_probability"].to_numpy(),
        "evidence": linked["evidence"].to_numpy()})
    return duplicates.reset_index(drop=True), clusters
