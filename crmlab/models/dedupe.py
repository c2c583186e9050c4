"""Find records entered twice: Fellegi–Sunter record linkage with Splink (DuckDB engine).

Each pair of records ``(a, b)`` that a blocking rule brings together is compared field
by field; comparison ``k`` falls in one level ``γ_k`` (e.g. name: same words / same
after folding spelling / one letter apart / Jaro–Winkler ≥ 0.88 / different). With
``m_kγ = P(γ_k | same person)`` and ``u_kγ = P(γ_k | different people)`` the match
weight is

``w = log2(λ / (1 - λ)) + Σ_k log2(m_kγ / u_kγ)``, ``P(match) = 2^w / (1 + 2^w)``,

where ``λ`` is the prior probability that two random records match. For an exact name
the weight is adjusted by the name's frequency (term-frequency adjustment), so a common
name ("Wang Wei") is weaker evidence than a rare one: namesakes are not duplicates
unless other fields agree too.

Every parameter is estimated on the data itself: ``u`` from random pairs (almost all
non-matches), ``m`` and ``λ`` by expectation–maximisation on pairs blocked by rules that
leave out the field being estimated.

Doctors are compared on name, account and city, specialty, title, department size and
visit behaviour (the same rep visiting both IDs in one month is evidence against; one
ID's visits starting when the other's stop is evidence for). Accounts are compared on
name, city, type, tier, beds and outpatients.

Names are read only inside the comparison: the pairs this model returns carry IDs,
probabilities and agreement flags (``evidence``), and Splink's log is silenced.

Examples
--------
>>> from crmlab.features.dedupe import doctor_records
>>> model = DuplicateModel("doctors", seed=1).fit(records)  # doctest: +SKIP
>>> model.pairs_.head()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Level:
    """One comparison level: its SQL condition, chart label and evidence symbol."""

    label: str
    sql: str
    symbol: str
    m_start: float = 0.1
    tf_column: str | None = None


@dataclass(frozen=True)
class Comparison:
    """A compared field: the word used in ``evidence``, its null condition, its levels."""

    name: str
    null_sql: str
    levels: tuple[Level, ...]
    different: str = "≠"

    def as_splink(self) -> dict:
        levels = [{"sql_condition": self.null_sql, "label_for_charts": "missing",
                   "is_null_level": True}]
        for level in self.levels:
            item = {"sql_condition": level.sql, "label_for_charts": level.label,
                    "m_probability": level.m_start}
            if level.tf_column:
                item |= {"tf_adjustment_column": level.tf_column, "tf_adjustment_weight": 1.0}
            levels.append(item)
        levels.append({"sql_condition": "ELSE", "label_for_charts": "different",
                       "m_probability": max(1 - sum(lv.m_start for lv in self.levels), 0.01)})
        return {"output_column_name": self.name.replace(" ", "_"),
                "comparison_levels": levels}

    def symbols(self) -> dict[int, str]:
        """Splink's gamma value → evidence text (gamma counts down from the top level)."""
        top = len(self.levels)
        out = {-1: f"{self.name}?", 0: f"{self.name}{self.different}"}
        out.update({top - k: f"{self.name}{level.symbol}" for k, level in enumerate(self.levels)})
        return out


def _name(jaro_winkler: bool = True) -> Comparison:
    """Name levels; accounts skip Jaro–Winkler (their names share long prefixes)."""
    levels = (
        Level("same words", "name_key_l = name_key_r", "=", 0.5, tf_column="name_key"),
        Level("same after folding spelling and spacing",
              "name_folded_l = name_folded_r OR name_letters_l = name_letters_r", "≈", 0.15),
        Level("one letter apart", "damerau_levenshtein(name_folded_l, name_folded_r) <= 1", "≈", 0.15),
    )
    if jaro_winkler:
        levels += (Level("Jaro-Winkler >= 0.88",
                         "jaro_winkler_similarity(name_folded_l, name_folded_r) >= 0.88", "~", 0.1),)
    return Comparison("name", "name_key_l IS NULL OR name_key_r IS NULL", levels)


def _size_difference(column: str) -> str:
    return f"abs(ln(1 + {column}_l) - ln(1 + {column}_r))"


def _relative(column: str, name: str, close: float) -> Comparison:
    diff = _size_difference(column)
    return Comparison(name, f"{column}_l IS NULL OR {column}_r IS NULL", (
        Level("same", f"{diff} <= 0.02", "=", 0.5),
        Level(f"within {close:.0%}", f"{diff} <= {np.log1p(close):.4f}", "≈", 0.2),
    ))


DOCTOR_COMPARISONS = (
    _name(),
    # Department size only means something at the same account: one comparison, so that a
    # doctor who moved (another account, another department) is not penalised twice.
    Comparison("account", "account_id_l IS NULL OR account_id_r IS NULL", (
        Level("same account, same department size",
              f"account_id_l = account_id_r AND {_size_difference('department_outpatients')} <= 0.02",
              "=, department size=", 0.5),
        Level("same account, department size within 25%",
              f"account_id_l = account_id_r AND {_size_difference('department_outpatients')} <= 0.2231",
              "=, department size≈", 0.2),
        Level("same account, other department size", "account_id_l = account_id_r",
              "=, department size≠", 0.05),
        Level("other account, same city", "city_l = city_r", "≈", 0.2),
    )),
    Comparison("specialty", "specialty_l IS NULL OR specialty_r IS NULL", (
        Level("same", "specialty_l = specialty_r", "=", 0.9),)),
    Comparison("title", "title_l IS NULL OR title_r IS NULL", (
        Level("same", "title_l = title_r", "=", 0.8),
        Level("one step apart", "abs(title_rank_l - title_rank_r) = 1", "≈", 0.15),
    )),
    # Pairs visited by one rep in one month are no candidates (see DOCTOR_BLOCKING): a rep
    # who meets a doctor logs the visit under one ID.
    Comparison("visits", "visit_months_l IS NULL OR visit_months_r IS NULL", (
        Level("one starts as the other stops",
              "(first_month_r > last_month_l AND first_month_r - last_month_l <= 3) OR "
              "(first_month_l > last_month_r AND first_month_l - last_month_r <= 3)",
              ": one starts as the other stops", 0.35),
        Level("never in the same month", "len(list_intersect(visit_months_l, visit_months_r)) = 0",
              ": never in the same month", 0.3),
    ), different=": same months, other reps"),
)

#: Never visited by the same rep in the same month (or one never visited).
_NOT_COVISITED = ("(l.rep_months IS NULL OR r.rep_months IS NULL OR "
                  "len(list_intersect(l.rep_months, r.rep_months)) = 0)")

_SAME_DEPARTMENT_SIZE = ("abs(ln(1 + l.department_outpatients) - "
                         "ln(1 + r.department_outpatients)) <= 0.2231")


def _rule(*columns: str) -> str:
    """Equal ``columns`` and never visited together by one rep (a blocking rule in SQL)."""
    return " AND ".join([*(f"l.{c} = r.{c}" for c in columns), _NOT_COVISITED])


#: Candidate pairs: one account, or one city and a shared name key, letters or word; and
#: never visited by the same rep in the same month.
DOCTOR_BLOCKING = (_rule("account_id"), _rule("city", "name_folded"),
                   _rule("city", "name_letters"), _rule("city", "first_word"),
                   _rule("city", "last_word"))

#: EM rounds: each leaves out of estimation the comparisons whose fields it blocks on,
#: and each blocks on fields that make duplicates common among its pairs. The same name
#: and specialty tell account, title and visits; pairs that look like one doctor but for
#: the name (same account and specialty, similar department) tell the name levels; the
#: same name, title and department size at one account tell specialty and visits.
DOCTOR_EM = (
    _rule("name_folded", "specialty"),
    f"{_rule('account_id', 'specialty')} AND {_SAME_DEPARTMENT_SIZE}",
    f"{_rule('account_id', 'name_folded', 'title')} AND {_SAME_DEPARTMENT_SIZE}",
)

ACCOUNT_COMPARISONS = (
    _name(jaro_winkler=False),
    Comparison("city", "city_l IS NULL OR city_r IS NULL", (Level("same", "city_l = city_r", "=", 0.95),)),
    Comparison("type", "account_type_l IS NULL OR account_type_r IS NULL", (
        Level("same", "account_type_l = account_type_r", "=", 0.95),)),
    Comparison("tier", "tier_l IS NULL OR tier_r IS NULL", (Level("same", "tier_l = tier_r", "=", 0.9),)),
    _relative("beds", "beds", 0.2),
    _relative("annual_outpatients", "outpatients", 0.2),
)
ACCOUNT_BLOCKING = (("city",), ("name_folded",), ("name_letters",))
#: Accounts: the same reported outpatient volume in one city and type tells the name
#: levels (two places rarely report the same figure); the same name tells the rest.
ACCOUNT_EM = ("l.city = r.city AND l.account_type = r.account_type AND "
              "l.annual_outpatients = r.annual_outpatients", ("name_folded",))

MODELS = {"doctors": (DOCTOR_COMPARISONS, DOCTOR_BLOCKING, DOCTOR_EM),
          "accounts": (ACCOUNT_COMPARISONS, ACCOUNT_BLOCKING, ACCOUNT_EM)}

#: EM iterations per round (Splink's default); more lets m drift to 0 on sparse levels.
MAX_ITERATIONS = 25

PAIR_COLUMNS = ["id_l", "id_r", "match_weight", "match_probability", "evidence"]


@contextlib.contextmanager
def _quiet_splink():
    """Silence Splink's log and warnings: they may quote values, and values are names."""
    logger = logging.getLogger("splink")
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.CRITICAL)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
        logger.propagate = propagate


class DuplicateModel:
    """Splink linkage model that finds records of one table entered twice.

    Parameters
    ----------
    table : {"doctors", "accounts"}
        Which comparisons and blocking rules to use (see ``MODELS``).
    min_probability : float, default 0.01
        Pairs below this match probability are not returned.
    u_max_pairs : float, default 1e6
        Random pairs sampled to estimate the u probabilities.
    em_max_pairs : float, default 2e6
        At most this many blocked pairs per EM round (a deterministic sample above it).
    m_floor : float, default 0.01
        Smallest m probability of a level: EM gives 0 to a level it never sees among
        matches (e.g. another specialty), which would veto every such pair whatever
        the other fields say; the floor caps that veto (m is renormalised after).
    seed : int, default 7
        Seed of the random sampling for u.

    Attributes
    ----------
    pairs_ : DataFrame
        ``id_l, id_r, match_weight, match_probability, evidence`` for each scored pair
        at or above ``min_probability``; ``id_l < id_r``.
    parameters_ : DataFrame
        Per comparison and level: ``m``, ``u`` and the match weight ``log2(m/u)``.
    lambda_ : float
        Estimated probability that two random records are the same.
    converged_ : bool
        Whether every EM round that ran converged within Splink's iteration limit.
    notes_ : list of str
        What went less than well (also issued as RuntimeWarnings).
    failed_rounds_ : list of int
        EM rounds (1-based) that could not run: no candidate pairs, or a level whose
        probability vanished. The levels only they estimate keep their starting values.
    linker_ : splink.Linker
        The fitted linker, for Splink's charts and diagnostics.
    """

    def __init__(self, table: str = "doctors", *, min_probability: float = 0.01,
                 u_max_pairs: float = 1e6, em_max_pairs: float = 2e6, m_floor: float = 0.01,
                 seed: int = 7):
        self.table = table
        self.min_probability = min_probability
        self.m_floor = m_floor
        self.u_max_pairs = u_max_pairs
        self.em_max_pairs = em_max_pairs
        self.seed = seed

    def _settings(self):
        from splink import SettingsCreator, block_on

        comparisons, blocking, _ = MODELS[self.table]
        return SettingsCreator(
            link_type="dedupe_only",
            comparisons=[c.as_splink() for c in comparisons],
            blocking_rules_to_generate_predictions=[
                rule if isinstance(rule, str) else block_on(*rule) for rule in blocking],
            # the gamma columns (for evidence) come only with the matching columns; the
            # predictions are reduced to IDs, weights and evidence in _pairs
            retain_matching_columns=True,
            retain_intermediate_calculation_columns=False,
            max_iterations=MAX_ITERATIONS,
        )

    def fit(self, records: pd.DataFrame) -> "DuplicateModel":
        """Estimate the model on ``records`` and score their candidate pairs.

        ``records`` as built by :func:`crmlab.features.dedupe.doctor_records` or
        :func:`~crmlab.features.dedupe.account_records`.
        """
        if self.table not in MODELS:
            raise ValueError(f"table must be one of {', '.join(MODELS)}, got {self.table!r}")
        comparisons, _, em_rules = MODELS[self.table]
        self.converged_ = True
        self.notes_ = []
        if len(records) < 2:
            self._fit_empty(comparisons)
            return self
        from splink import DuckDBAPI, Linker, block_on
        from splink.internals.exceptions import EMTrainingException  # not re-exported publicly

        with _quiet_splink():
            db_api = DuckDBAPI()
            records = records.reset_index(drop=True)

            def register(name):
                return db_api.register(records, table_name=name)

            linker = Linker(register("records"), self._settings(), log_level=logging.CRITICAL)
            linker.training.estimate_u_using_random_sampling(
                max_pairs=self.u_max_pairs, seed=self.seed)
            self.failed_rounds_ = []
            for number, columns in enumerate(em_rules, start=1):
                rule = columns if isinstance(columns, str) else block_on(*columns)
                before = linker.misc.save_model_to_json()
                try:
                    session = linker.training.estimate_parameters_using_expectation_maximisation(
                        rule, max_pairs=self.em_max_pairs)
                except (EMTrainingException, ValueError):
                    # no pairs for this rule, or a level never seen: go on from the model
                    # as it was (a failed round can leave the linker half-updated)
                    self.failed_rounds_.append(number)
                    linker = Linker(register(f"records_{number}"), before,
                                    log_level=logging.CRITICAL)
                    continue
                self.converged_ &= _converged(session)
            model = _floor_m(linker.misc.save_model_to_json(), self.m_floor)
            linker = Linker(register("records_scored"), model, log_level=logging.CRITICAL)
            blocked = linker.inference.predict()
            prior = _logit2(model["probability_two_random_records_match"])
            histogram = linker.misc.query_sql(
                f"SELECT round(match_weight - {prior!r}, 2) AS weight, count(*) AS pairs "
                f"FROM {blocked.physical_name} GROUP BY 1", output_type="pandas")
            lam = prior_match_probability(histogram["weight"], histogram["pairs"],
                                          len(records) * (len(records) - 1) / 2)
            floor = _logit2(self.min_probability) - _logit2(lam) + prior
            predictions = linker.misc.query_sql(
                f"SELECT * FROM {blocked.physical_name} WHERE match_weight >= {floor!r}",
                output_type="pandas")
            predictions["match_weight"] += _logit2(lam) - prior
            predictions["match_probability"] = _probability(predictions["match_weight"])
            model["probability_two_random_records_match"] = lam
            # a linker holding the final model, for Splink's charts
            linker = Linker(register("records_final"), model, log_level=logging.CRITICAL)
        self.linker_ = linker
        self.lambda_ = float(model["probability_two_random_records_match"])
        self.parameters_ = _parameters(model, comparisons)
        self.pairs_ = _pairs(predictions, comparisons)
        if self.failed_rounds_:
            self.notes_.append(
                f"{self.table}: {len(self.failed_rounds_)} of {len(em_rules)} EM rounds found "
                "too few candidate pairs (few or no duplicates?); the levels only they estimate "
                "keep their starting values")
        if not self.converged_:
            self.notes_.append(f"{self.table}: the EM estimation of the duplicate model did not "
                               "converge; treat the match probabilities with caution")
        for note in self.notes_:
            warnings.warn(note, RuntimeWarning, stacklevel=2)
        return self

    def _fit_empty(self, comparisons) -> None:
        self.linker_ = None
        self.failed_rounds_ = []
        self.lambda_ = float("nan")
        self.parameters_ = pd.DataFrame(columns=["comparison", "level", "m", "u", "match_weight"])
        self.pairs_ = pd.DataFrame(columns=PAIR_COLUMNS)

    def match_weights_chart(self) -> dict | None:
        """Splink's match-weights chart as a Vega-Lite specification (None before fit)."""
        if self.linker_ is None:
            return None
        with _quiet_splink():
            return self.linker_.visualisations.match_weights_chart().chart_dict


def _floor_m(model: dict, floor: float) -> dict:
    """``model`` with each comparison's m probabilities at least ``floor``, summing to 1."""
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        m = np.array([lv.get("m_probability") or 0.0 for lv in levels], dtype=float)
        if m.sum() <= 0:
            continue
        m = np.maximum(m / m.sum(), floor)
        for level, value in zip(levels, m / m.sum()):
            level["m_probability"] = float(value)
    return model


def _logit2(p: float) -> float:
    return float(np.log2(p) - np.log2(1 - p))


def _probability(weight):
    return 1 / (1 + np.exp2(-np.asarray(weight, dtype=float)))


def prior_match_probability(weights, pairs, total_pairs: float, start: float = 1e-4,
                            tol: float = 1e-10, max_iter: int = 500) -> float:
    """λ, the share of all pairs that match, as the fixed point of its EM update.

    ``weights`` are the partial match weights (Bayes factors in bits, without the
    prior) of the blocked pairs, ``pairs`` how many pairs have each weight; pairs not
    blocked count as non-matches. The update is ``λ ← Σ P(match | w, λ) / total_pairs``.

    Examples
    --------
    >>> lam = prior_match_probability([30.0, -5.0], [10, 990], total_pairs=1e6)
    >>> round(lam * 1e6, 1)
    10.0
    """
    weights = np.asarray(weights, dtype=float)
    pairs = np.asarray(pairs, dtype=float)
    lam = start
    for _ in range(max_iter):
        new = float((pairs * _probability(weights + _logit2(lam))).sum() / total_pairs)
        new = min(max(new, 1e-12), 0.5)
        if abs(new - lam) <= tol * lam:
            return new
        lam = new
    return lam


def _converged(session) -> bool:
    """Whether an EM session stopped before the iteration limit (one λ record per iteration)."""
    iterations = len(session.probability_two_random_records_match_iteration_chart().chart_data)
    return iterations < MAX_ITERATIONS


def _parameters(model: dict, comparisons) -> pd.DataFrame:
    rows = []
    for comparison, spec in zip(comparisons, model["comparisons"]):
        for level in spec["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = np.log2(m / u) if m and u else np.nan
            rows.append((comparison.name, level["label_for_charts"], m, u, weight))
    return pd.DataFrame(rows, columns=["comparison", "level", "m", "u", "match_weight"])


def _pairs(predictions: pd.DataFrame, comparisons) -> pd.DataFrame:
    """IDs, weight, probability and evidence of each predicted pair: no other column."""
    if predictions.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    evidence = []
    for comparison in comparisons:
        gamma = predictions[f"gamma_{comparison.name.replace(' ', '_')}"].astype(int)
        evidence.append(gamma.map(comparison.symbols()))
    evidence = pd.concat(evidence, axis=1).agg(", ".join, axis=1)
    a = predictions["unique_id_l"].astype(str).to_numpy()
    b = predictions["unique_id_r"].astype(str).to_numpy()
    pairs = pd.DataFrame({"id_l": np.minimum(a, b), "id_r": np.maximum(a, b),
                          "match_weight": predictions["match_weight"].to_numpy(float),
                          "match_probability": predictions["match_probability"].to_numpy(float),
                          "evidence": evidence.to_numpy()})
    return pairs.sort_values(["match_probability", "id_l", "id_r"],
                             ascending=[False, True, True], kind="stable").reset_index(drop=True)

