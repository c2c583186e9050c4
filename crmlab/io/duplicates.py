"""Merge IDs entered twice: map each ID to its surviving ID from a reviewed clusters file.

``crmlab run dedupe`` writes ``clusters.csv`` (``table, cluster, id, surviving_id, ...``).
Once a person has reviewed it (deleting the rows of clusters that are not duplicates),
``load(DIR, duplicates="clusters.csv")`` applies it: the rows of merged doctors and
accounts are dropped from ``doctors`` / ``accounts`` and every reference to them
(visits, prescriptions, event attendance, doctors' accounts, sales, events) points to
the surviving ID. Prescriptions of one doctor, product and month are summed.

Examples
--------
>>> mapping = pd.DataFrame({"table": ["doctors"], "id": ["D2"], "surviving_id": ["D1"]})
>>> tables = {"doctors": pd.DataFrame({"doctor_id": ["D1", "D2"]}),
...           "visits": pd.DataFrame({"doctor_id": ["D1", "D2"]})}
>>> merged = merge_duplicates(tables, surviving_ids(mapping))
>>> merged["doctors"]["doctor_id"].tolist(), merged["visits"]["doctor_id"].tolist()
(['D1'], ['D1', 'D1'])
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crmlab.io.report import DataContractError

#: Where each master table's ID is referred to: (table, column).
REFERENCES = {
    "doctors": ("doctor_id", [("visits", "doctor_id"), ("prescriptions", "doctor_id"),
                              ("event_attendance", "doctor_id")]),
    "accounts": ("account_id", [("doctors", "account_id"), ("sales", "account_id"),
                                ("events", "account_id")]),
}
REQUIRED = ["table", "id", "surviving_id"]


def read_clusters(path: str | Path) -> pd.DataFrame:
    """Read a clusters file (``table, id, surviving_id``; other columns ignored).

    Raises
    ------
    DataContractError
        The file is missing, lacks a column, names an unknown table, or maps an ID to
        two surviving IDs; the message names the file, column and rows.
    """
    path = Path(path)
    if not path.is_file():
        raise DataContractError(f"duplicates file {path} not found")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataContractError(f"duplicates file {path.name} lacks column(s) "
                                f"{', '.join(missing)} (expected {', '.join(REQUIRED)})")
    frame = frame[REQUIRED]
    unknown = frame.index[~frame["table"].isin(list(REFERENCES))]
    if len(unknown):
        raise DataContractError(f"duplicates file {path.name}: column table must be doctors or "
                                f"accounts (rows {', '.join(str(i + 2) for i in unknown[:10])})")
    return frame


def surviving_ids(clusters: pd.DataFrame) -> dict[str, pd.Series]:
    """Per table, a Series ``id → surviving_id`` of the IDs that merge into another."""
    clashes = clusters.groupby(["table", "id"])["surviving_id"].nunique()
    clashes = clashes[clashes > 1]
    if len(clashes):
        shown = ", ".join(f"{t} {i}" for t, i in clashes.index[:10])
        raise DataContractError(f"duplicates: an ID maps to two surviving IDs: {shown}")
    merged = clusters[clusters["id"] != clusters["surviving_id"]]
    out = {}
    for table, rows in merged.groupby("table"):
        mapping = rows.drop_duplicates("id").set_index("id")["surviving_id"]
        # a surviving ID that itself merges into another: follow the chain
        for _ in range(len(mapping)):
            chained = mapping.map(mapping).dropna()
            if chained.empty:
                break
            mapping.loc[chained.index] = chained
        out[str(table)] = mapping
    return out


def merge_duplicates(tables: dict[str, pd.DataFrame], mapping: dict[str, pd.Series]
                     ) -> dict[str, pd.DataFrame]:
    """``tables`` with merged IDs dropped from master tables and re-keyed everywhere."""
    tables = dict(tables)
    for table, (key, references) in REFERENCES.items():
        ids = mapping.get(table)
        if ids is None or ids.empty:
            continue
        if table in tables:
            master = tables[table]
            tables[table] = master[~master[key].isin(ids.index)].reset_index(drop=True)
        for child, column in references:
            frame = tables.get(child)
            if frame is None or column not in frame or frame.empty:
                continue
            values = frame[column]
            tables[child] = frame.assign(**{column: values.map(ids).fillna(values).astype(values.dtype)})
    rx = tables.get("prescriptions")
    if rx is not None and len(rx) and "doctors" in mapping:
        keys = ["doctor_id", "product_id", "month"]
        sums = [c for c in ("trx", "nrx") if c in rx]
        other = [c for c in rx.columns if c not in keys + sums]
        grouped = rx.groupby(keys, sort=False, dropna=False)
        merged = pd.concat([grouped[sums].sum(min_count=1), grouped[other].first()], axis=1)
        tables["prescriptions"] = merged.reset_index()[rx.columns].astype(rx.dtypes.to_dict())
    return tables
