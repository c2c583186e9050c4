"""The data contract as data: tables, columns, keys and their pandera schemas.

``docs/data-contract.md`` is the readable version of this module; change both together.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

#: dtype of every ID and text column: arrow-backed strings, missing values are ``pd.NA``.
STRING = pd.StringDtype("pyarrow")

#: How each column kind is stored once loaded.
DTYPES = {
    "str": STRING,
    "date": "datetime64[ns]",
    "month": "datetime64[ns]",
    "float": "float64",
    "int": "Int64",
    "bool": "bool",
}

ACCOUNT_TYPES = ("hospital", "clinic", "pharmacy", "other")
TITLES = ("chief", "associate_chief", "attending", "resident", "other")
CHANNELS = ("face_to_face", "remote", "phone", "email", "messaging", "other")
VISIT_STATUSES = ("completed", "planned", "cancelled")
EVENT_TYPES = ("seminar", "launch", "conference", "free_clinic", "advertising", "other")


@dataclass(frozen=True)
class Field:
    """One column of the contract.

    ``kind`` is one of ``str``, ``date``, ``month``, ``float``, ``int``, ``bool``.
    ``required`` means the column must exist and every value must be present.
    ``allowed`` values are compared after stripping blanks and lower-casing.
    ``default`` fills missing values; ``default_from`` fills them from another column.
    ``personal`` columns are never copied into the rejects file.
    ``past`` dates must not be after today (a fact cannot have happened yet).
    """

    name: str
    kind: str = "str"
    required: bool = False
    unique: bool = False
    non_negative: bool = False
    allowed: tuple[str, ...] | None = None
    default: object = None
    default_from: str | None = None
    personal: bool = False
    past: bool = False


def _f(name: str, kind: str = "str", **kw) -> Field:
    return Field(name, kind, **kw)


CONTRACT: dict[str, tuple[Field, ...]] = {
    "accounts": (
        _f("account_id", required=True, unique=True),
        _f("name"),
        _f("account_type", required=True, allowed=ACCOUNT_TYPES),
        _f("tier"),
        _f("region", required=True),
        _f("city"),
        _f("territory_id", required=True),
        _f("beds", "int", non_negative=True),
        _f("annual_outpatients", "int", non_negative=True),
    ),
    "doctors": (
        _f("doctor_id", required=True, unique=True),
        _f("account_id", required=True),
        _f("specialty", required=True),
        _f("title", allowed=TITLES),
        _f("department_beds", "int", non_negative=True),
        _f("department_outpatients", "int", non_negative=True),
        _f("name", personal=True),
    ),
    "reps": (
        _f("rep_id", required=True, unique=True),
        _f("territory_id", required=True),
        _f("manager_id"),
        _f("hire_date", "date"),
        _f("end_date", "date"),
    ),
    # optional: days a rep was away (leave, training, sick), capacity shocks reps do not choose
    "rep_absences": (
        _f("rep_id", required=True),
        _f("start_date", "date", required=True),
        _f("end_date", "date", default_from="start_date"),
        _f("reason"),
    ),
    "products": (
        _f("product_id", required=True, unique=True),
        _f("brand"),
        _f("therapeutic_area"),
        _f("unit_price", "float", non_negative=True),
        _f("is_competitor", "bool", default=False),
    ),
    "distributors": (
        _f("distributor_id", required=True, unique=True),
        _f("level", "int"),
        _f("parent_id"),
        _f("region"),
    ),
    "visits": (
        _f("visit_id", required=True, unique=True),
        _f("date", "date", required=True, past=True),
        _f("rep_id", required=True),
        _f("doctor_id", required=True),
        _f("product_id"),
        _f("channel", allowed=CHANNELS, default="face_to_face"),
        _f("duration_min", "float", non_negative=True),
        _f("status", allowed=VISIT_STATUSES, default="completed"),
    ),
    "events": (
        _f("event_id", required=True, unique=True),
        _f("event_type", required=True, allowed=EVENT_TYPES),
        _f("start_date", "date", required=True),
        _f("end_date", "date", default_from="start_date"),
        _f("product_id"),
        _f("region"),
        _f("account_id"),
        _f("cost", "float", non_negative=True),
    ),
    "event_attendance": (
        _f("event_id", required=True),
        _f("doctor_id", required=True),
    ),
    "prescriptions": (
        _f("doctor_id", required=True),
        _f("product_id", required=True),
        _f("month", "month", required=True, past=True),
        _f("trx", "float", required=True, non_negative=True),
        _f("nrx", "float", non_negative=True),
    ),
    "sales": (
        _f("date", "date", required=True, past=True),
        _f("account_id", required=True),
        _f("product_id", required=True),
        _f("units", "float", required=True),
        _f("distributor_id"),
        _f("revenue", "float"),
    ),
    "shipments": (
        _f("date", "date", required=True, past=True),
        _f("distributor_id", required=True),
        _f("product_id", required=True),
        _f("units", "float", required=True),
    ),
    "inventory": (
        _f("date", "date", required=True, past=True),
        _f("distributor_id", required=True),
        _f("product_id", required=True),
        _f("units_on_hand", "float", required=True, non_negative=True),
    ),
    # optional: sales targets per territory or rep, product and month (attainment in the drivers scorecard)
    "targets": (
        _f("territory_id"),
        _f("rep_id"),
        _f("product_id", required=True),
        _f("month", "month", required=True),
        _f("target_units", "float", required=True, non_negative=True),
    ),
}

#: All tables, in contract order (a table comes after every table it refers to).
TABLES: tuple[str, ...] = tuple(CONTRACT)
#: Tables that must have a file (the file may hold a header only, except accounts, products).
REQUIRED_TABLES: tuple[str, ...] = ("accounts", "doctors", "reps", "products", "visits")
#: At least one of these must have a file.
OUTCOME_TABLES: tuple[str, ...] = ("prescriptions", "sales")
#: Required tables that must also hold at least one row.
NON_EMPTY_TABLES: tuple[str, ...] = ("accounts", "products")
#: Tables without an ID column, where an exact copy of a row would be counted twice.
FACT_TABLES: tuple[str, ...] = ("rep_absences", "event_attendance", "prescriptions", "sales",
                                "shipments", "inventory", "targets")
#: Fact tables that are transaction logs: two identical deliveries on one day are possible
#: (real logs such as CDNOW hold them), so an exact copy is a warning there, not a reject.
TRANSACTION_TABLES: tuple[str, ...] = ("sales", "shipments")
#: Rows whose ``past`` dates may be in the future: (table, column, value), e.g. a planned visit.
FUTURE_ALLOWED: tuple[tuple[str, str, str], ...] = (("visits", "status", "planned"),)

#: Column names (normalised by :func:`normalise_name`) that hold personal data, in any
#: table: never copied into the rejects, reports or output CSVs.
PERSONAL_NAMES: frozenset[str] = frozenset({
    "name", "doctorname", "fullname", "firstname", "lastname", "surname", "givenname",
    "phone", "mobile", "telephone", "email", "idcard", "idnumber", "nationalid",
})


@dataclass(frozen=True)
class ForeignKey:
    """``table.column`` must be a ``parent.parent_column`` (missing values are not checked)."""

    table: str
    column: str
    parent: str
    parent_column: str


FOREIGN_KEYS: tuple[ForeignKey, ...] = (
    ForeignKey("doctors", "account_id", "accounts", "account_id"),
    ForeignKey("distributors", "parent_id", "distributors", "distributor_id"),
    ForeignKey("visits", "rep_id", "reps", "rep_id"),
    ForeignKey("rep_absences", "rep_id", "reps", "rep_id"),
    ForeignKey("visits", "doctor_id", "doctors", "doctor_id"),
    ForeignKey("visits", "product_id", "products", "product_id"),
    ForeignKey("event_attendance", "event_id", "events", "event_id"),
    ForeignKey("event_attendance", "doctor_id", "doctors", "doctor_id"),
    ForeignKey("prescriptions", "doctor_id", "doctors", "doctor_id"),
    ForeignKey("prescriptions", "product_id", "products", "product_id"),
    ForeignKey("sales", "account_id", "accounts", "account_id"),
    ForeignKey("sales", "product_id", "products", "product_id"),
    ForeignKey("sales", "distributor_id", "distributors", "distributor_id"),
    ForeignKey("shipments", "distributor_id", "distributors", "distributor_id"),
    ForeignKey("shipments", "product_id", "products", "product_id"),
    ForeignKey("inventory", "distributor_id", "distributors", "distributor_id"),
    ForeignKey("inventory", "product_id", "products", "product_id"),
    ForeignKey("targets", "rep_id", "reps", "rep_id"),
    ForeignKey("targets", "product_id", "products", "product_id"),
)


def fields(table: str) -> dict[str, Field]:
    """The contract columns of ``table`` by name."""
    return {field.name: field for field in CONTRACT[table]}


def normalise_name(name) -> str:
    """A column name lower-cased, without blanks, ``_`` or ``-``: ``Doctor Name`` → ``doctorname``.

    Examples
    --------
    >>> normalise_name(" Full_Name ")
    'fullname'
    """
    return "".join(char for char in str(name).lower() if char.isalnum())


def is_personal(name) -> bool:
    """True when a column's name says it holds personal data (``Name``, ``e-mail``...).

    Examples
    --------
    >>> is_personal("Name"), is_personal("doctor_id")
    (True, False)
    """
    return normalise_name(name) in PERSONAL_NAMES


def allowed_columns(table: str) -> list[str]:
    """The contract columns of ``table`` that may be shown (not personal): the allow-list
    of the rejects' ``values``.

    Examples
    --------
    >>> allowed_columns("doctors")[-1]
    'department_outpatients'
    """
    return [field.name for field in CONTRACT[table] if not field.personal]


def is_id_column(name: str) -> bool:
    """Every column whose name ends in ``_id`` holds IDs, read as strings."""
    return str(name).endswith("_id")


def parents(table: str) -> set[str]:
    """Tables that ``table`` refers to, directly or not (itself excluded)."""
    found: set[str] = set()
    todo = [table]
    while todo:
        child = todo.pop()
        for key in FOREIGN_KEYS:
            if key.table == child and key.parent != child and key.parent not in found:
                found.add(key.parent)
                todo.append(key.parent)
    return found


# Labels that name a pandera check in the failure cases; also used in the rejects file.
NON_NEGATIVE = "non_negative"
ALLOWED_VALUES = "allowed_values"


def table_schema(table: str) -> pa.DataFrameSchema:
    """The pandera schema of a loaded (already typed) contract table.

    It checks types, required values, unique keys, values that must not be negative
    and allowed values. Extra columns are allowed. Parsing text into types, and keys
    across tables, are checked by :mod:`crmlab.io.load`.

    Examples
    --------
    >>> schema = table_schema("accounts")
    >>> schema.columns["account_id"].unique
    True
    """
    columns = {}
    for field in CONTRACT[table]:
        checks = []
        if field.non_negative:
            checks.append(pa.Check.ge(0, error=NON_NEGATIVE))
        if field.allowed:
            checks.append(pa.Check.isin(list(field.allowed), error=ALLOWED_VALUES))
        columns[field.name] = pa.Column(
            DTYPES[field.kind],
            checks=checks,
            nullable=not field.required,
            unique=field.unique,
            report_duplicates="all",
            required=True,
        )
    return pa.DataFrameSchema(columns, strict=False, coerce=False, name=table)
