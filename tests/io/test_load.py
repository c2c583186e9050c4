"""The data contract: a tiny valid data set, and each kind of bad input made from it."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from contract_tables import VALID, edited, error_text, header_only, write_tables

from crmlab.io import REQUIRED_TABLES, TABLES, load, validate

# --- valid input -------------------------------------------------------------------------

def test_valid_tables_load_with_contract_dtypes(tmp_path):
    ds = load(write_tables(tmp_path))

    assert ds.present == frozenset(TABLES)
    assert all(ds.has(table) for table in TABLES)
    assert ds.rejects.empty
    assert ds.accounts["account_id"].tolist() == ["007", "A2", "A3"]
    assert ds.doctors["account_id"].iloc[0] == "007"
    for table in TABLES:
        for column in ds[table].columns:
            if column.endswith("_id"):
                assert ds[table][column].dtype == "string", (table, column)
    assert ds.accounts["beds"].dtype == "Int64"
    assert ds.accounts["beds"].isna().sum() == 1
    assert ds.accounts["account_type"].tolist() == ["hospital", "pharmacy", "clinic"]
    assert ds.accounts["crm_flag"].tolist()[0] == "x"  # extra column kept
    assert ds.products["is_competitor"].tolist() == [False, True]
    assert ds.products["unit_price"].dtype == "float64"
    assert ds.visits["date"].dtype == "datetime64[ns]"
    assert ds.visits["date"].iloc[3] == pd.Timestamp("2025-03-06")
    assert ds.visits["visit_id"].tolist() == ["V1", "V2", "V3", "V4"]  # datetime → date
    assert ds.reps["hire_date"].iloc[1] == pd.Timestamp("2021-06-01")
    assert ds.reps["end_date"].isna().tolist() == [True, False]
    assert ds.visits["channel"].iloc[1] == "face_to_face"
    assert ds.visits["status"].iloc[1] == "completed"
    assert ds.visits["product_id"].isna().iloc[1]
    assert ds.events["end_date"].iloc[0] == pd.Timestamp("2025-03-10")
    assert ds.prescriptions["month"].tolist() == [pd.Timestamp("2025-03-01")] * 2 + [
        pd.Timestamp("2025-04-01")]
    assert ds.prescriptions["nrx"].isna().iloc[1]
    assert ds["sales"]["units"].tolist() == [100, -5, 20]  # a return is kept


def test_validate_good_data_is_ok(tmp_path):
    report = validate(write_tables(tmp_path))

    assert report.ok
    assert report.issues.empty
    assert report.write_rejects() is None
    assert not (tmp_path / "rejects.csv").exists()
    text = report.to_text()
    assert "ok" in text and "visits (visits.csv): 4 rows, ok" in text


def test_optional_tables_may_be_absent_and_come_back_empty(tmp_path):
    data = write_tables(tmp_path, distributors=None, events=None, event_attendance=None,
                        sales=None, shipments=None, inventory=None)
    ds = load(data)

    assert not ds.has("sales") and "sales" not in ds.present
    assert ds.sales.empty and "units" in ds.sales.columns
    assert ds.sales["date"].dtype == "datetime64[ns]"
    assert ds.has("prescriptions")


def test_sales_only_market_loads(tmp_path):
    data = write_tables(tmp_path, doctors=header_only("doctors"), reps=header_only("reps"),
                        visits=header_only("visits"), prescriptions=None, events=None,
                        event_attendance=None, rep_absences=None)
    ds = load(data)

    assert not ds.has("visits") and "visits" in ds.present
    assert ds.visits.empty and ds.visits["date"].dtype == "datetime64[ns]"
    assert ds.has("sales") and (ds.sales["units"] < 0).sum() == 1
    assert validate(data).ok


def test_missing_value_words_are_missing_only_in_typed_columns(tmp_path):
    data = write_tables(tmp_path, reps=edited("reps", "2020-01-15,", "2020-01-15,NULL"),
                        accounts=edited("accounts", "A3,Town Clinic,clinic,1,West",
                                        "A3,Town Clinic,clinic,1,NA"))
    ds = load(data)

    assert ds.reps["end_date"].isna().tolist() == [True, False]
    assert ds.accounts["region"].iloc[2] == "NA"


def test_gb18030_csv_reads_with_its_encoding(tmp_path):
    chinese = {
        **VALID,
        "accounts": edited("accounts", "General Hospital,hospital,3A,East,Shanghai",
                           "上海市第一人民医院,hospital,3A,华东,上海"),
        "doctors": edited("doctors", "Wang Wei", "王伟"),
    }
    data = write_tables(tmp_path, tables=chinese, encoding="gb18030")

    ds = load(data, encoding="gb18030")
    assert ds.accounts["name"].iloc[0] == "上海市第一人民医院"
    assert ds.accounts["city"].iloc[0] == "上海"

    message = error_text(data)
    assert "accounts.csv" in message
    assert "utf-8" in message and "--encoding gb18030" in message
    report = validate(data)
    assert not report.ok and "encoding" in set(report.issues["check"])


def test_parquet_is_read_and_wins_over_csv(tmp_path):
    data = write_tables(tmp_path)
    accounts = pd.read_csv(data / "accounts.csv", dtype=str)
    accounts["beds"] = pd.to_numeric(accounts["beds"])
    accounts.to_parquet(data / "accounts.parquet")
    visits = pd.read_csv(data / "visits.csv")
    visits["date"] = pd.to_datetime(visits["date"], format="ISO8601")
    visits.set_index("visit_id").to_parquet(data / "visits.parquet")  # a pandas index
    (data / "visits.csv").unlink()
    # numeric IDs in parquet are read as strings
    pd.DataFrame({"distributor_id": [1, 2], "level": [1, 2], "parent_id": [None, 1.0],
                  "region": ["East", "East"]}).to_parquet(data / "distributors.parquet")
    (data / "distributors.csv").unlink()
    (data / "sales.csv").write_text(VALID["sales"].replace("W1", "1").replace("W2", "2"))
    (data / "shipments.csv").unlink()
    (data / "inventory.csv").unlink()

    with pytest.warns(UserWarning, match="accounts.parquet"):
        ds = load(data)
    assert ds.accounts["account_id"].iloc[0] == "007"
    assert ds.accounts["beds"].dtype == "Int64"
    assert ds.visits["date"].iloc[3] == pd.Timestamp("2025-03-06")
    assert ds.visits["visit_id"].tolist() == ["V1", "V2", "V3", "V4"]
    assert ds.distributors["distributor_id"].tolist() == ["1", "2"]
    assert ds.distributors["parent_id"].tolist()[1] == "1"
    assert ds.sales["distributor_id"].tolist()[:2] == ["1", "2"]
    report = validate(data)
    assert report.ok
    assert report.issues["severity"].tolist() == ["warning"]


# --- fatal problems ----------------------------------------------------------------------

def test_missing_required_file(tmp_path):
    data = write_tables(tmp_path, visits=None, reps=None)

    message = error_text(data)
    assert "reps" in message and "visits" in message
    assert "no visits.csv or visits.parquet" in message
    assert "files found" in message and "accounts.csv" in message
    report = validate(data)
    assert not report.ok
    missing = report.issues[report.issues["check"] == "file_missing"]
    assert sorted(missing["table"]) == ["reps", "visits"]


def test_no_outcome_table(tmp_path):
    data = write_tables(tmp_path, prescriptions=None, sales=None)

    assert "at least one of prescriptions" in error_text(data)


def test_missing_required_column(tmp_path):
    visits = "\n".join(",".join(line.split(",")[:3] + line.split(",")[4:])
                       for line in VALID["visits"].splitlines())
    data = write_tables(tmp_path, visits=visits)

    message = error_text(data)
    assert "visits" in message and "doctor_id" in message and "lacks required column" in message
    report = validate(data)
    row = report.issues[report.issues["check"] == "column_missing"].iloc[0]
    assert (row["table"], row["column"], row["severity"]) == ("visits", "doctor_id", "error")


def test_empty_accounts_is_an_error(tmp_path):
    data = write_tables(tmp_path, accounts=header_only("accounts"))

    message = error_text(data)
    assert "accounts.csv has a header but no rows" in message


@pytest.mark.parametrize("text", ["", "\n"])
def test_empty_file_is_an_error(tmp_path, text):
    data = write_tables(tmp_path, reps=text)

    message = error_text(data)
    assert "reps.csv is empty" in message and "header" in message
    assert not validate(data).ok


def test_file_without_header_line(tmp_path):
    data = write_tables(tmp_path, reps="\n".join(VALID["reps"].splitlines()[1:]) + "\n")

    message = error_text(data)
    assert "reps.csv lacks required column(s) rep_id, territory_id" in message
    assert "header line missing" in message


@pytest.mark.parametrize("reps, expected", [
    (VALID["reps"] + "R3,T2,M1,2022-01-01,,extra\n", "Expected 5 fields in line 4, saw 6"),
    ("rep_id,territory_id\nR1,T1,x\nR2,T2,y\n", "rows with more fields than its header"),
])
def test_row_longer_than_header_is_an_error(tmp_path, reps, expected):
    message = error_text(write_tables(tmp_path, reps=reps))

    assert "unreadable" in message and "reps.csv" in message and expected in message


# --- rejected rows -----------------------------------------------------------------------

def test_unparseable_date(tmp_path):
    data = write_tables(tmp_path, visits=edited("visits", "2025-03-05", "2025-13-45"))

    message = error_text(data)
    assert "1 row in 1 table(s)" in message
    assert "visits (visits.csv)" in message
    assert "date: date_format — 1 row" in message
    assert "row 2: unparseable date '2025-13-45'" in message

    rejects = validate(data).rejects
    assert rejects[["table", "row", "check", "column"]].values.tolist() == [
        ["visits", 2, "date_format", "date"]]
    values = json.loads(rejects["values"].iloc[0])
    assert values["date"] == "2025-13-45" and values["visit_id"] == "V3"


def test_unparseable_number_and_unknown_value(tmp_path):
    data = write_tables(tmp_path, accounts=edited("accounts", "T2,10,", "T2,ten,")
                        .replace("hospital,3A", "hopsital,3A"))

    report = validate(data)
    assert not report.ok
    issues = report.issues.set_index("check")
    assert issues.loc["number_format", "column"] == "beds"
    assert "unparseable beds 'ten'" in issues.loc["number_format", "examples"]
    assert issues.loc["allowed_values", "column"] == "account_type"
    assert "account_type 'hopsital' is not one of: hospital" in \
        issues.loc["allowed_values", "examples"]


def test_duplicate_id_rejects_every_copy_and_its_children(tmp_path):
    data = write_tables(tmp_path, doctors=edited("doctors", "D2,007", "D1,007"))

    report = validate(data)
    doctors = report.rejects[report.rejects["table"] == "doctors"]
    assert doctors["row"].tolist() == [0, 1]
    assert set(doctors["check"]) == {"unique"}
    assert "duplicate doctor_id 'D1'" in doctors["reason"].iloc[0]
    visits = report.rejects[report.rejects["table"] == "visits"]
    # D2 is gone (its row now says D1): V2 refers to an unknown doctor
    assert visits[["row", "check"]].values.tolist() == [
        [0, "rejected_parent"], [1, "foreign_key"], [3, "rejected_parent"]]
    assert "doctor_id 'D1' refers to a rejected doctors row" in visits["reason"].iloc[0]
    unique = report.issues[report.issues["check"] == "unique"].iloc[0]
    assert (unique["table"], unique["column"], unique["rows"]) == ("doctors", "doctor_id", 2)
    # personal data stays out of the rejects file
    assert "name" not in json.loads(doctors["values"].iloc[0])


def test_visit_to_unknown_doctor(tmp_path):
    data = write_tables(tmp_path, visits=edited("visits", "R1,D2", "R1,D99"))

    message = error_text(data)
    assert "doctor_id: foreign_key — 1 row" in message
    assert "row 1: unknown doctor_id 'D99' (not in doctors)" in message


def test_negative_inventory_rejected_negative_sales_kept(tmp_path):
    data = write_tables(tmp_path, inventory=edited("inventory", "W2,P1,0", "W2,P1,-3"))

    report = validate(data)
    assert report.rejects[["table", "row", "check", "column"]].values.tolist() == [
        ["inventory", 1, "non_negative", "units_on_hand"]]
    assert "units_on_hand must be >= 0, got -3.0" in report.rejects["reason"].iloc[0]


def test_missing_required_value(tmp_path):
    data = write_tables(tmp_path, prescriptions=edited("prescriptions", "D2,P1,2025-03-01,4",
                                                       "D2,P1,2025-03-01,"))

    report = validate(data)
    assert report.rejects["reason"].tolist() == ["required trx is missing"]


def test_distributor_parent_chain(tmp_path):
    data = write_tables(tmp_path, distributors=VALID["distributors"] + "W3,2,W9,East\n"
                        + "W4,3,W3,East\n")

    rejects = validate(data).rejects
    assert rejects[["row", "check"]].values.tolist() == [[2, "foreign_key"],
                                                         [3, "rejected_parent"]]


def test_allow_rejects_drops_exactly_the_rejected_rows(tmp_path):
    data = write_tables(
        tmp_path,
        visits=edited("visits", "R1,D2", "R1,D99").replace("2025-03-05", "someday"),
        inventory=edited("inventory", "W2,P1,0", "W2,P1,-3"))

    ds = load(data, allow_rejects=True)
    assert ds.visits["visit_id"].tolist() == ["V1", "V4"]
    assert ds.visits.index.tolist() == [0, 1]
    assert ds.inventory["distributor_id"].tolist() == ["W1"]
    assert ds.rejects[["table", "row", "check"]].values.tolist() == [
        ["visits", 1, "foreign_key"], ["visits", 2, "date_format"],
        ["inventory", 1, "non_negative"]]
    assert len(ds.doctors) == 3 and len(ds.sales) == 3


def test_tables_argument_reads_a_table_and_its_parents(tmp_path):
    data = write_tables(tmp_path, visits=edited("visits", "R1,D2", "R1,D99"))

    ds = load(data, tables=["sales"])
    assert ds.present == {"sales", "accounts", "products", "distributors"}
    assert len(ds.sales) == 3 and ds.visits.empty
    with pytest.raises(ValueError, match="unknown table"):
        load(data, tables=["visit"])


def test_report_text_and_rejects_file(tmp_path):
    data = write_tables(tmp_path, visits=edited("visits", "R1,D2", "R1,D99"))
    report = validate(data)

    text = report.to_text()
    assert text.startswith(f"Data contract check of {data}: FAILED")
    assert "visits (visits.csv): 4 rows, 1 rejected" in text
    path = report.write_rejects()
    assert path == data / "rejects.csv"
    written = pd.read_csv(path)
    assert written.columns.tolist() == ["table", "row", "check", "column", "reason", "values"]
    assert written["row"].tolist() == [1]


def test_validate_never_raises(tmp_path):
    report = validate(tmp_path / "nowhere")
    assert not report.ok and "is not a directory" in report.to_text()
    report = validate(write_tables(tmp_path), encoding="klingon")
    assert not report.ok and "unknown encoding 'klingon'" in report.to_text()
    for table in REQUIRED_TABLES:
        (tmp_path / f"{table}.csv").unlink()
    report = validate(tmp_path)
    assert not report.ok
    assert len(report.issues) == len(REQUIRED_TABLES)


# --- command line ------------------------------------------------------------------------

def test_cli_validate(tmp_path, capsys):
    from crmlab.cli import main

    (tmp_path / "good").mkdir()
    good = write_tables(tmp_path / "good")
    assert main(["validate", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    assert not (good / "rejects.csv").exists()

    (tmp_path / "bad").mkdir()
    bad = write_tables(tmp_path / "bad", visits=edited("visits", "R1,D2", "R1,D99"))
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "unknown doctor_id 'D99'" in out
    assert f"rejected rows written to {bad / 'rejects.csv'}" in out
    assert pd.read_csv(bad / "rejects.csv")["table"].tolist() == ["visits"]


def test_a_whole_number_column_rejects_tiny_fractions():
    """Found by the fuzz test: ``beds = 2.2e-16`` loaded as 0. Only float noise on a whole
    number (an export's ``3.0000000000000004``) counts as whole."""
    from crmlab.io.read import parse_number

    numbers, bad = parse_number(pd.Series(["3", "3.0000000000000004", "2.220446049250313e-16", "3.00001", "0"]),
                                integer=True)
    assert bad.tolist() == [False, False, True, True, False]
    assert numbers[~bad].tolist() == [3, 3, 0]
