"""Load and validate the crmlab data contract (see ``docs/data-contract.md``).

Examples
--------
>>> from crmlab.io import load, validate
>>> report = validate("data/sample")  # doctest: +SKIP
>>> ds = load("data/sample")  # doctest: +SKIP
>>> ds["visits"].head()  # doctest: +SKIP
"""

from crmlab.io.load import Dataset, load, validate
from crmlab.io.report import DataContractError, ValidationReport
from crmlab.io.schemas import CONTRACT, FOREIGN_KEYS, REQUIRED_TABLES, TABLES, table_schema

__all__ = [
    "CONTRACT",
    "FOREIGN_KEYS",
    "REQUIRED_TABLES",
    "TABLES",
    "DataContractError",
    "Dataset",
    "ValidationReport",
    "load",
    "table_schema",
    "validate",
]
