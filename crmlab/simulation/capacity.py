"""Rep absences: exogenous capacity shocks, written to the optional ``rep_absences`` table.

A rep is away some days (annual leave, training weeks, sick days). Absences are drawn
independently of the doctors' demand, so the months in which a territory loses
capacity move visits for reasons reps do not choose: the variation an instrumental-
variable design of the visit effect needs. An absent rep makes no visits that day; the
month's visit rate of the territory falls by the share of its days lost.

Only drawn when ``rep_absence_rate > 0``, from their own random stream.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Reasons of absence, their shares and their length in calendar days (low, high inclusive).
ABSENCE_REASONS = {"leave": (0.4, 5, 15), "training": (0.35, 3, 7), "sick": (0.25, 1, 5)}


class Capacity:
    """Steps drawing rep absences (mixed into the simulator)."""

    absent_days: np.ndarray | None = None

    def _rep_absences(self, holder: np.ndarray, active: np.ndarray) -> pd.DataFrame:
        """Absence spells per rep slot; sets ``absent_days`` (slot × day, bool).

        Spells start on a random day of a month in which the slot is held, at a Poisson
        rate of ``rep_absence_rate`` a year, and are cut where the holder's tenure ends.
        """
        cfg, rng = self.cfg, self.absence_rng
        n_t, n_m = holder.shape
        first = self.months[0]
        day_month = self._day_month()
        n_days = len(day_month)
        absent = np.zeros((n_t, n_days), dtype=bool)
        rows = []
        reasons = list(ABSENCE_REASONS)
        shares = [v[0] for v in ABSENCE_REASONS.values()]
        starts = rng.poisson(cfg.rep_absence_rate / 12, (n_t, n_m)) * active
        for s, t in zip(*np.nonzero(starts)):
            for _ in range(starts[s, t]):
                reason = reasons[rng.choice(len(reasons), p=shares)]
                low, high = ABSENCE_REASONS[reason][1:]
                day = (self.months[t] - first).days + int(rng.integers(0, self.months[t].days_in_month))
                length = int(rng.integers(low, high + 1))
                span = np.arange(day, min(day + length, n_days))
                # the spell ends with the holder's tenure (a leaver's last day, a vacancy)
                same = (holder[s, day_month[span]] == holder[s, t]) & active[s, day_month[span]]
                span = span[np.cumprod(same).astype(bool)]
                if not len(span) or absent[s, span].any():  # one spell at a time
                    continue
                absent[s, span] = True
                rows.append((self._rep_ids[holder[s, t]], first + pd.Timedelta(days=int(span[0])),
                             first + pd.Timedelta(days=int(span[-1])), reason))
        self.absent_days = absent
        table = pd.DataFrame(rows, columns=["rep_id", "start_date", "end_date", "reason"])
        return table.sort_values(["start_date", "rep_id"], kind="stable").reset_index(drop=True)

    def _day_month(self) -> np.ndarray:
        """Month index of every day of the simulated period."""
        days = pd.date_range(self.months[0], self.months[-1] + pd.offsets.MonthEnd(0), freq="D")
        return ((days.year - self.months[0].year) * 12 + days.month - self.months[0].month).to_numpy()

    def _absent_share(self) -> np.ndarray:
        """Share of each month's days a territory's rep is away (slot × month)."""
        day_month = self._day_month()
        lost = np.zeros((self.absent_days.shape[0], self.cfg.n_months))
        np.add.at(lost.T, day_month, self.absent_days.T)
        return lost / self.months.days_in_month.to_numpy()[None, :]

    def _present_dates(self, date: np.ndarray, territory: np.ndarray, month_idx: np.ndarray) -> np.ndarray:
        """Move visits drawn on a day the rep is away to the next day present in that month."""
        day = (date - self.months[0].to_datetime64()).astype("timedelta64[D]").astype(np.int64)
        month_first = (self.months.to_numpy()[month_idx] - self.months[0].to_datetime64()).astype(
            "timedelta64[D]").astype(np.int64)
        month_len = self.months.days_in_month.to_numpy()[month_idx]
        moved = day.copy()
        for shift in range(1, 32):
            away = self.absent_days[territory, moved]
            if not away.any():
                break
            moved = np.where(away, month_first + (day - month_first + shift) % month_len, moved)
        return self.months[0].to_datetime64() + moved.astype("timedelta64[D]")
