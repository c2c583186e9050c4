"""Input that used to slip through the loader (issue 9, section 2), one test per kind."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest
from contract_tables import VALID, edited, error_text, write_tables

from crmlab.io import DataContractError, load, validate

LOAD_MODULE = importlib.import_module("crmlab.io.load")  # crmlab.io.load is also the function


def rejected(report, table):
    return report.rejects[report.rejects["table"] == table]


# --- numbers -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["inf", "-Infinity", "1e23", "+inf", "-1e16"])
@pytest.mark.parametrize("table, old, new", [
    ("sales", "A2,P1,-5,", "A2,P1,{},"),
    ("prescriptions", "D2,P1,2025-03-01,4,", "D2,P1,2025-03-01,{},"),
])
def test_non_finite_or_absurd_number_is_rejected(tmp_path, text, table, old, new):
    data = write_tables(tmp_path, **{table: edited(table, old, new.format(text))})

    report = validate(data)
    found = rejected(report, table)
    assert found[["row", "check"]].values.tolist() == [[1, "finite_number"]]
    assert f"'{text}' is not a finite number (at most 1e15 in size)" in found["reason"].iloc[0]
    column = found["column"].iloc[0]
    assert json.loads(found["values"].iloc[0])[column] == text  # as written in the file
    ds = load(data, allow_rejects=True)
    assert np.isfinite(ds[table][column].dropna()).all() and len(ds[table]) == 2


def test_largest_allowed_number_is_kept(tmp_path):
    data = write_tables(tmp_path, sales=edited("sales", "A2,P1,-5,", "A2,P1,-1e15,"))

    assert load(data).sales["units"].iloc[1] == -1e15


@pytest.mark.parametrize("text", ["1e19", "-1e19", "9223372036854775808", "inf"])
def test_huge_integer_names_table_column_and_value(tmp_path, text, capsys):
    data = write_tables(tmp_path, accounts=edited("accounts", "T2,10,", f"T2,{text},"))

    message = error_text(data)  # a DataContractError, not an overflow traceback
    assert "accounts (accounts.csv)" in message and "beds: finite_number" in message
    assert f"beds '{text}' is not a finite number" in message
    from crmlab.cli import main
    assert main(["validate", str(data)]) == 1
    assert f"row 2: beds '{text}' is not a finite number" in capsys.readouterr().out


def test_huge_number_in_parquet_is_rejected(tmp_path):
    data = write_tables(tmp_path)
    accounts = pd.read_csv(data / "accounts.csv", dtype=str)
    accounts["beds"] = [500.0, np.inf, 1e19]
    accounts.to_parquet(data / "accounts.parquet")
    (data / "accounts.csv").unlink()

    found = rejected(validate(data), "accounts")
    assert found[["row", "check", "column"]].values.tolist() == [
        [1, "finite_number", "beds"], [2, "finite_number", "beds"]]


# --- duplicates --------------------------------------------------------------------------

@pytest.mark.parametrize("table", ["prescriptions", "inventory", "event_attendance",
                                   "rep_absences"])
def test_exact_duplicate_row_is_rejected_keeping_the_first(tmp_path, table):
    lines = VALID[table].splitlines()
    text = "\n".join(lines + [lines[1], lines[2], lines[1]]) + "\n"
    data = write_tables(tmp_path, **{table: text})
    n = len(lines) - 1

    found = rejected(validate(data), table)
    assert found[["row", "check"]].values.tolist() == [
        [n, "duplicate_row"], [n + 1, "duplicate_row"], [n + 2, "duplicate_row"]]
    assert found["reason"].tolist() == ["exact copy of row 0", "exact copy of row 1",
                                        "exact copy of row 0"]
    ds = load(data, allow_rejects=True)
    assert len(ds[table]) == n  # the first copies are kept, nothing is counted twice
    assert ds[table].equals(load(write_tables(tmp_path)).__getattribute__(table))


@pytest.mark.parametrize("table", ["sales", "shipments"])
def test_exact_duplicate_transaction_is_kept_with_a_warning(tmp_path, table):
    """Transaction logs may hold two identical deliveries on one day (CDNOW does)."""
    lines = VALID[table].splitlines()
    data = write_tables(tmp_path, **{table: "\n".join(lines + [lines[1], lines[1]]) + "\n"})

    report = validate(data)
    assert report.ok
    warned = report.issues[(report.issues["table"] == table)
                           & (report.issues["check"] == "duplicate_row")]
    assert len(warned) == 1 and warned["severity"].iloc[0] == "warning"
    assert "2 rows" in warned["examples"].iloc[0] and "kept" in warned["examples"].iloc[0]
    with pytest.warns(UserWarning, match="repeat an earlier row"):
        ds = load(data)
    assert len(ds[table]) == len(lines) + 1


def test_rows_differing_in_one_value_are_not_duplicates(tmp_path):
    data = write_tables(tmp_path, sales=VALID["sales"] + "2025-03-31,007,P1,100,W1,1251\n")

    assert validate(data).ok


def test_duplicate_visit_is_a_duplicate_id(tmp_path):
    lines = VALID["visits"].splitlines()
    data = write_tables(tmp_path, visits="\n".join(lines + [lines[1]]) + "\n")

    found = rejected(validate(data), "visits")
    assert set(found["check"]) == {"unique"} and found["row"].tolist() == [0, 4]


# --- future dates ------------------------------------------------------------------------

@pytest.mark.parametrize("table, old, new, column", [
    ("prescriptions", "D3,P2,2025-04,", "D3,P2,2099-01,", "month"),
    ("sales", "2025-03-31,A3", "2099-12-31,A3", "date"),
    ("shipments", "2025-03-15,W2", "2099-03-15,W2", "date"),
    ("inventory", "2025-03-31,W2", "2099-03-31,W2", "date"),
    ("visits", "V1,2025-03-03", "V1,2099-03-03", "date"),
])
def test_future_date_is_rejected(tmp_path, table, old, new, column):
    data = write_tables(tmp_path, **{table: edited(table, old, new)})

    found = rejected(validate(data), table)
    assert found[["check", "column"]].values.tolist() == [["future_date", column]]
    assert " is after today (" in found["reason"].iloc[0]
    assert found["reason"].iloc[0].startswith(f"{column} 2099-")


def test_planned_visit_and_planned_event_may_be_in_the_future(tmp_path):
    data = write_tables(tmp_path, visits=edited("visits", "V3,2025-03-05", "V3,2099-03-05"),
                        events=edited("events", "2025-03-10", "2099-03-10"))

    assert validate(data).ok


def test_today_decides_what_is_future(tmp_path, monkeypatch):
    data = write_tables(tmp_path)
    monkeypatch.setattr(LOAD_MODULE, "today", lambda: pd.Timestamp("2025-03-30"))

    found = rejected(validate(data), "sales")
    assert found["reason"].tolist() == ["date 2025-03-31 is after today (2025-03-30)"] * 3
    found = rejected(validate(data), "prescriptions")
    assert found["row"].tolist() == [2]  # month 2025-04 starts after 2025-03-30


def test_overview_runs_on_data_with_a_future_prescription(tmp_path):
    from crmlab.analyses import overview

    sample = "data/sample"
    for path in pd.io.common.Path(sample).glob("*.csv"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    with open(tmp_path / "prescriptions.csv", "a") as file:
        file.write("D0000001,P01,2099-01-01,5,1\n")

    with pytest.raises(DataContractError, match="future_date"):
        overview.run(str(tmp_path))
    result = overview.run(str(tmp_path), allow_rejects=True)
    assert result.summary()["rejected_rows"] == 1
    assert result.summary()["last_month"] < "2099"


# --- the shape of a CSV file -------------------------------------------------------------

def test_duplicate_header_is_an_error(tmp_path):
    data = write_tables(tmp_path, sales=VALID["sales"].replace("units,distributor_id",
                                                               "units,units", 1))

    message = error_text(data)
    assert "sales.csv has the column 'units' twice in its header line (columns 4 and 5)" \
        in message
    issues = validate(data).issues
    assert issues[issues["table"] == "sales"]["check"].tolist() == ["duplicate_column"]


def test_duplicate_header_after_blanks_are_removed(tmp_path):
    data = write_tables(tmp_path, sales=VALID["sales"].replace("units,distributor_id",
                                                               "units, units ", 1))

    assert "has the column 'units' twice" in error_text(data)


def test_truncated_rows_are_rejected(tmp_path):
    sales = VALID["sales"] + "2025-04-30,A3,P1,20\n2025-04-30,A3\n2025-05-31,A3,P1,5,,\n"
    data = write_tables(tmp_path, sales=sales)

    found = rejected(validate(data), "sales")
    assert found[["row", "check", "column"]].values.tolist() == [
        [3, "truncated_row", "distributor_id"], [4, "truncated_row", "product_id"],
        [4, "required", "product_id"], [4, "required", "units"]]
    assert found["reason"].iloc[0] == ("the line has 4 of the header's 6 fields: "
                                       "distributor_id and after are missing (a truncated line?)")
    # an empty trailing field written as such is not truncated: row 5 is accepted
    assert len(load(data, allow_rejects=True).sales) == 4


def test_truncated_rows_are_found_in_quoted_files_and_after_blank_lines(tmp_path):
    sales = VALID["sales"] + '\n"2025-04-30","A3","P1","20"\n\n  \n"2025-04-30","A3",P1,"1\n0",,\n'
    data = write_tables(tmp_path, sales=sales)

    found = rejected(validate(data), "sales")
    assert found[["row", "check"]].values.tolist() == [[3, "truncated_row"],
                                                       [4, "number_format"]]


def test_a_trailing_comma_is_ignored_any_other_extra_field_is_an_error(tmp_path):
    data = write_tables(tmp_path, sales=VALID["sales"].replace("1250\n", "1250,\n"))
    assert load(data).sales["revenue"].tolist() == [1250, -62.5, 250]

    data = write_tables(tmp_path, sales=VALID["sales"].replace("1250\n", "1250, \n"))
    assert "sales.csv has rows with more fields than its header line" in error_text(data)


@pytest.mark.parametrize("delimiter, kind", [(";", "semicolon-delimited"),
                                             ("\t", "tab-delimited")])
def test_other_delimiter_is_named(tmp_path, delimiter, kind):
    data = write_tables(tmp_path, visits=VALID["visits"].replace(",", delimiter))

    message = error_text(data)
    assert f"visits.csv looks {kind}" in message and "comma-delimited" in message
    assert "lacks required column" not in message


@pytest.mark.parametrize("content, kind", [
    (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100, "an Excel workbook"),
    (bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 100, "an Excel 97-2003 workbook (.xls)"),
    (VALID["reps"].encode("utf-16"), "UTF-16"),
    (VALID["reps"].encode("utf-16-le"), "UTF-16"),
    (b"<html><body><table><tr><td>rep_id</td></tr></table></body></html>", "an HTML page"),
])
def test_file_that_is_not_a_csv_says_what_it_looks_like(tmp_path, content, kind):
    data = write_tables(tmp_path)
    (data / "reps.csv").write_bytes(content)

    message = error_text(data)
    assert f"reps.csv looks like {kind}" in message and "CSV UTF-8" in message
    issues = validate(data).issues
    assert issues[issues["table"] == "reps"]["check"].tolist() == ["file_format"]


def test_utf16_is_read_when_its_encoding_is_given(tmp_path):
    data = write_tables(tmp_path, encoding="utf-16")

    assert validate(data, encoding="utf-16").ok


# --- what leaves crmlab ------------------------------------------------------------------

@pytest.mark.parametrize("header", ["Name", " NAME ", "name"])
def test_names_never_reach_the_rejects(tmp_path, header):
    doctors = VALID["doctors"].replace(",name\n", f",{header}\n", 1)
    doctors = doctors.replace("D2,007,cardiology,attending", "D2,007,cardiology,professor")
    data = write_tables(tmp_path, doctors=doctors)

    report = validate(data)
    report.write_rejects()
    written = (data / "rejects.csv").read_text()
    assert "Li Na" not in written and "Wang Wei" not in written
    values = json.loads(rejected(report, "doctors")["values"].iloc[0])
    assert list(values) == ["doctor_id", "account_id", "specialty", "title", "department_beds",
                            "department_outpatients"]
    assert "Li Na" not in report.to_text()


def test_extra_columns_stay_out_of_the_rejects(tmp_path):
    data = write_tables(tmp_path, accounts=edited("accounts", "T2,10,", "T2,ten,"))

    values = json.loads(rejected(validate(data), "accounts")["values"].iloc[0])
    assert "crm_flag" not in values and values["beds"] == "ten"


def test_formula_in_the_rejects_file_is_neutralised(tmp_path):
    data = write_tables(tmp_path, accounts=edited("accounts", "hospital,3A", "=cmd|' /C calc'!A0,3A"))

    path = validate(data).write_rejects()
    written = pd.read_csv(path, dtype=str)
    assert not written.apply(lambda column: column.str.startswith(("=", "+", "-", "@"))).any().any()


# --- validate: where the rejects go ------------------------------------------------------

def test_validate_on_a_read_only_folder_prints_the_report(tmp_path, capsys, monkeypatch):
    from crmlab.cli import main

    data = write_tables(tmp_path, visits=edited("visits", "R1,D2", "R1,D99"))

    def refuse(self, *args, **kwargs):
        raise PermissionError(1, "Operation not permitted", str(data / "rejects.csv"))

    monkeypatch.setattr(pd.DataFrame, "to_csv", refuse)
    assert main(["validate", str(data)]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.out and "unknown doctor_id 'D99'" in captured.out
    assert (f"the rejected rows could not be written to {data / 'rejects.csv'}: "
            "Operation not permitted; write them elsewhere with --rejects PATH") in captured.out
    assert captured.err == ""


def test_validate_writes_the_rejects_where_asked(tmp_path, capsys):
    from crmlab.cli import main

    data = write_tables(tmp_path, visits=edited("visits", "R1,D2", "R1,D99"))
    target = tmp_path / "elsewhere" / "rejects.csv"
    assert main(["validate", str(data), "--rejects", str(target)]) == 1
    assert f"rejected rows written to {target}" in capsys.readouterr().out
    assert pd.read_csv(target)["table"].tolist() == ["visits"]
    assert not (data / "rejects.csv").exists()


def test_stale_rejects_file_is_removed_when_the_data_is_fixed(tmp_path, capsys):
    from crmlab.cli import main

    data = write_tables(tmp_path, visits=edited("visits", "R1,D2", "R1,D99"))
    assert main(["validate", str(data)]) == 1
    assert (data / "rejects.csv").exists()
    capsys.readouterr()

    write_tables(tmp_path)  # fixed
    assert main(["validate", str(data)]) == 0
    assert not (data / "rejects.csv").exists()
    assert "rejected rows written" not in capsys.readouterr().out


def test_a_users_own_rejects_csv_is_never_removed(tmp_path):
    data = write_tables(tmp_path)
    (data / "rejects.csv").write_text("order,why\n1,late\n")

    assert validate(data).write_rejects() is None
    assert (data / "rejects.csv").read_text() == "order,why\n1,late\n"
