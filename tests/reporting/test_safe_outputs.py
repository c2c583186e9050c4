"""Output CSVs are safe to open in a spreadsheet and carry no personal data."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlab.io.export import csv_safe
from crmlab.reporting import save_outputs

FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0", "-2+3", "@x",
            "\t=1+1", "\r=1+1"]


def test_formulas_in_text_cells_are_neutralised_numbers_untouched(tmp_path):
    table = pd.DataFrame({
        "account_id": pd.array(["A1", "A2", "A3", "A4", "A5", "A6", "A7"], dtype="string"),
        "city": FORMULAS + ["-2.5"],
        "tier": pd.Categorical(["@1", "3A", "3A", "3A", "3A", "3A", "3A"]),
        "units": [-2.5, 1.0, -3.0, 0.0, 4.0, 5.0, 6.0],
        "count": [-1, 2, 3, 4, 5, 6, 7],
    })
    save_outputs(tmp_path, {"n": 1}, {"accounts": table})

    written = pd.read_csv(tmp_path / "accounts.csv", dtype=str, keep_default_na=False)
    assert written["city"].tolist()[:5] == ["'" + text for text in FORMULAS[:5]]
    assert written["city"].iloc[5] == "'\n=1+1"  # a lone CR would end the row
    assert written["city"].str.startswith("'").sum() == 6
    assert written["city"].iloc[6] == "-2.5"  # a plain number is not a formula
    assert written["tier"].iloc[0] == "'@1"
    assert written["units"].tolist()[:3] == ["-2.5", "1", "-3"]
    assert written["count"].iloc[0] == "-1"
    first = written.apply(lambda column: column.str[:1])
    assert not first.isin(["=", "+", "@", "\t", "\r"]).any().any()


def test_formula_in_a_column_name_is_neutralised(tmp_path):
    save_outputs(tmp_path, {}, {"deciles": pd.DataFrame({"=1+1": [1], "decile_=1": [2]})})

    assert (tmp_path / "deciles.csv").read_text().splitlines()[0] == "'=1+1,decile_=1"


@pytest.mark.parametrize("column", ["name", "Name", " Doctor Name ", "EMAIL", "phone"])
def test_personal_columns_are_dropped_with_a_warning(tmp_path, column):
    table = pd.DataFrame({"doctor_id": ["D1"], column: ["Wang Wei"], "score": [0.5]})

    with pytest.warns(UserWarning, match="personal data not written"):
        save_outputs(tmp_path, {}, {"doctors": table})
    text = (tmp_path / "doctors.csv").read_text()
    assert "Wang Wei" not in text and text.splitlines()[0] == "doctor_id,score"


def test_csv_safe_leaves_the_input_alone():
    table = pd.DataFrame({"city": ["=1"]})

    assert csv_safe(table)["city"].iloc[0] == "'=1"
    assert table["city"].iloc[0] == "=1"
