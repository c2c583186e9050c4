"""Contact base hygiene: doctors and accounts entered twice under different IDs.

A doctor split over two IDs is half as big in the grading, their visits and
prescriptions no longer meet in the attribution panel, and one of the two looks lapsed
to churn. This analysis links the records of each table with a probabilistic
(Fellegi–Sunter) model estimated on the data itself (:mod:`crmlab.models.dedupe`),
lists the likely duplicates with the evidence for each, groups them into clusters with
a proposed surviving ID, and counts the visits and volume the duplicates split.

Names are compared inside the model only: no output holds a name.

A reviewed ``clusters.csv`` maps IDs to their surviving ID when loading data:
``crmlab.io.load(DIR, duplicates="clusters.csv")``.
"""

from __future__ import annotations

import dataclasses
import warnings

import pandas as pd

from crmlab.analyses.base import AnalysisResult, Params, check_params, load_data, param, rejects_summary
from crmlab.features.dedupe import account_activity, account_records, doctor_activity, doctor_records
from crmlab.io import Dataset
from crmlab.models.dedupe import DuplicateModel
from crmlab.models.duplicate_clusters import duplicate_clusters

DUPLICATE_COLUMNS = ["table", "id", "duplicate_of", "match_probability", "evidence"]
CLUSTER_COLUMNS = ["table", "cluster", "id", "surviving_id", "size", "visits", "volume"]


@dataclasses.dataclass(frozen=True)
class DedupeParams(Params):
    """Parameters of the duplicate search."""

    threshold: float = param(0.5, "match probability from which a pair is listed as a "
                                  "duplicate and joined into a cluster")
    accounts: bool = param(True, "also look for accounts entered twice")
    u_max_pairs: int = param(1_000_000, "random pairs sampled to estimate how often fields "
                                        "agree by chance (u probabilities)")
    em_max_pairs: int = param(2_000_000, "at most this many blocked pairs per round of the "
                                         "EM estimation (a deterministic sample above it)")
    m_floor: float = param(0.01, "smallest probability of a comparison level among true "
                                 "duplicates, so that no single field vetoes a match")
    top: int = param(10, "largest cases listed in the summary and report")


@dataclasses.dataclass
class DedupeResult(AnalysisResult):
    """What the duplicate search found.

    Attributes
    ----------
    doctors_model, accounts_model : DuplicateModel
        The fitted linkage models (``accounts_model`` is None with ``accounts=False``);
        their ``parameters_``, ``lambda_`` and Splink ``linker_``.
    duplicates : DataFrame
        ``table, id, duplicate_of, match_probability, evidence`` per linked pair.
    clusters : DataFrame
        ``table, cluster, id, surviving_id, size, visits, volume`` per ID in a cluster.
    activity : dict of DataFrame
        ``visits`` and ``volume`` per ID, by table.
    """

    doctors_model: DuplicateModel
    accounts_model: DuplicateModel | None
    duplicates: pd.DataFrame
    clusters: pd.DataFrame
    activity: dict

    def parameters(self) -> pd.DataFrame:
        """m, u and match weight per table, comparison and level."""
        frames = [model.parameters_.assign(table=name) for name, model in
                  (("doctors", self.doctors_model), ("accounts", self.accounts_model))
                  if model is not None]
        table = pd.concat(frames, ignore_index=True)
        return table[["table", *table.columns.drop("table")]]

    def split(self, table: str) -> dict:
        """IDs, visits and volume on the IDs that would merge into another (non-survivors)."""
        clusters = self.clusters[self.clusters["table"] == table]
        merged = clusters[clusters["id"] != clusters["surviving_id"]]
        activity = self.activity[table]
        return {
            "records": int(len(activity)),
            "duplicate_pairs": int((self.duplicates["table"] == table).sum()),
            "clusters": int(clusters["cluster"].nunique()),
            "ids_to_merge": int(len(merged)),
            "visits_split": int(merged["visits"].sum()),
            "volume_split": float(merged["volume"].sum()),
            "share_of_visits": float(merged["visits"].sum() / max(activity["visits"].sum(), 1)),
            "share_of_volume": float(merged["volume"].sum() / max(activity["volume"].sum(), 1e-9)),
        }

    def largest(self, table: str = "doctors") -> pd.DataFrame:
        """The ``top`` clusters by volume: surviving ID, IDs, visits and volume split."""
        clusters = self.clusters[self.clusters["table"] == table]
        if clusters.empty:
            return pd.DataFrame(columns=["cluster", "surviving_id", "ids", "visits", "volume",
                                         "volume_on_merged_ids"])
        merged = clusters["id"] != clusters["surviving_id"]
        out = clusters.assign(on_merged=clusters["volume"].where(merged, 0.0)).groupby(
            "cluster").agg(surviving_id=("surviving_id", "first"),
                           ids=("id", lambda ids: " ".join(sorted(ids))),
                           visits=("visits", "sum"), volume=("volume", "sum"),
                           volume_on_merged_ids=("on_merged", "sum"))
        return out.sort_values("volume", ascending=False, kind="stable").head(
            self.params.top).reset_index()

    def summary(self) -> dict:
        tables = ["doctors"] + (["accounts"] if self.accounts_model is not None else [])
        return super().summary() | {
            "threshold": self.params.threshold,
            **{table: self.split(table) for table in tables},
            "largest_doctor_cases": self.largest("doctors").to_dict(orient="records"),
            "prior_match_probability": {
                table: model.lambda_ for table, model in
                (("doctors", self.doctors_model), ("accounts", self.accounts_model))
                if model is not None},
            "converged": all(model.converged_ for model in self.models()),
            "notes": [note for model in self.models() for note in model.notes_],
        }

    def models(self) -> list[DuplicateModel]:
        """The fitted models: doctors, then accounts if searched."""
        return [m for m in (self.doctors_model, self.accounts_model) if m is not None]

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {"duplicates": self.duplicates, "clusters": self.clusters,
                "match_weights": self.parameters()}


def run(data: str | Dataset = "data/sample", **params) -> DedupeResult:
    """Find doctors (and accounts) entered twice.

    Parameters
    ----------
    data : str, Path or Dataset
        A data directory in the data contract, or a loaded dataset.
    **params
        :class:`DedupeParams`.

    Examples
    --------
    >>> result = run("data/sample")  # doctest: +SKIP
    >>> result.summary()["doctors"]["duplicate_pairs"]  # doctest: +SKIP
    0
    """
    params = check_params(DedupeParams, params)
    ds = load_data(data, params)
    options = dict(min_probability=min(0.01, params.threshold), u_max_pairs=params.u_max_pairs,
                   em_max_pairs=params.em_max_pairs, m_floor=params.m_floor, seed=params.seed)
    activity = {"doctors": doctor_activity(ds.doctors, ds.visits, ds.prescriptions, ds.products)}
    with warnings.catch_warnings():
        # the models' warnings become the result's notes, shown in summary and report
        warnings.simplefilter("ignore", RuntimeWarning)
        doctors_model = DuplicateModel("doctors", **options).fit(
            doctor_records(ds.doctors, ds.accounts, ds.visits))
        found = [("doctors", doctors_model)]
        accounts_model = None
        if params.accounts:
            activity["accounts"] = account_activity(ds.accounts, ds.doctors, ds.visits,
                                                    ds.sales, ds.products)
            accounts_model = DuplicateModel("accounts", **options).fit(
                account_records(ds.accounts))
            found.append(("accounts", accounts_model))
    duplicates, clusters = [], []
    for table, model in found:
        pairs, groups = duplicate_clusters(model.pairs_, activity[table], params.threshold)
        duplicates.append(pairs.assign(table=table))
        clusters.append(groups.assign(table=table))
    duplicates = _stack(duplicates, DUPLICATE_COLUMNS)
    clusters = _stack(clusters, CLUSTER_COLUMNS)
    return DedupeResult(params=params, rejects=rejects_summary(ds), doctors_model=doctors_model,
                        accounts_model=accounts_model, duplicates=duplicates,
                        clusters=clusters.astype({"cluster": int, "size": int, "visits": int}),
                        activity=activity)


def _stack(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [frame[columns] for frame in frames if len(frame)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
