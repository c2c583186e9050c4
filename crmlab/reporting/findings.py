"""Key findings: the sentences a report opens with, shown and published the same way.

Every reporting module has ``key_findings(result) -> list[str]`` (3 to 6 sentences,
numbers formatted, generated from the result) and ``data_period(result) -> str``. A
notebook shows them with :func:`show_findings` under ``## Key findings`` and, after
``result.save(out_dir)``, adds them to ``summary.json`` with :func:`publish_findings`;
the runner's index page (:func:`crmlab.runner.folders.write_index`) reads them from there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from crmlab.reporting.outputs import save_outputs

#: Bounds on the number of sentences a report opens with.
MIN_FINDINGS, MAX_FINDINGS = 3, 6


class Findings(list):
    """Key findings: a list of sentences shown as a bulleted list (Markdown in a notebook)."""

    def __repr__(self) -> str:
        return "\n".join(f"- {sentence}" for sentence in self)

    def _repr_markdown_(self) -> str:
        # an underscore inside a word (number_format, rule_last_month) is text, not emphasis;
        # code spans are left as they are
        parts = re.split(r"(`[^`]*`)", repr(self))
        return "".join(part if part.startswith("`") else re.sub(r"(?<=\w)_(?=\w)", r"\\_", part)
                       for part in parts)


def show_findings(findings: list[str]) -> Findings:
    """The key findings for display: a bulleted list (Markdown in a report, text in a console).

    Examples
    --------
    >>> show_findings(["2 doctors are at risk.", "Visit them."])
    - 2 doctors are at risk.
    - Visit them.
    >>> print(show_findings(["rule_last_month won; run `-p merge_duplicates=x`."])._repr_markdown_())
    - rule\\_last\\_month won; run `-p merge_duplicates=x`.
    """
    return Findings(findings)


def publish_findings(out_dir: str | Path | None, findings: list[str], period: str | None = None) -> None:
    """Add ``key_findings`` (and ``data_period``) to the ``summary.json`` in ``out_dir``.

    Call it after the result's ``save(out_dir)``. Empty ``out_dir`` writes nothing, like
    :func:`crmlab.reporting.save_outputs`.

    Examples
    --------
    >>> publish_findings("", ["Nothing written."])
    """
    if not out_dir:
        return
    path = Path(out_dir) / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    summary["key_findings"] = [str(sentence) for sentence in findings]
    if period:
        summary["data_period"] = period
    save_outputs(out_dir, summary)


def month_period(first, last) -> str:
    """Two dates as a period of months: "2023-01 to 2025-12".

    Examples
    --------
    >>> month_period("2023-01-01", "2025-12-31")
    '2023-01 to 2025-12'
    """
    first, last = (pd.Timestamp(first).strftime("%Y-%m"), pd.Timestamp(last).strftime("%Y-%m"))
    return first if first == last else f"{first} to {last}"


def plural(n: float, word: str, words: str | None = None) -> str:
    """``n`` (with thousands separators) and its noun in the right number.

    Examples
    --------
    >>> plural(1, "doctor"), plural(1200, "doctor"), plural(2, "territory", "territories")
    ('1 doctor', '1,200 doctors', '2 territories')
    """
    n = int(n)
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
