"""Each analysis is one Python call whose result is exactly what `crmlab run` publishes."""

import importlib
import json

import pandas as pd
import pytest

from crmlab.analyses import get
from crmlab.analyses.base import ParameterError
from crmlab.config import ANALYSES, SAMPLE_DIR
from crmlab.reporting.outputs import _to_json
from crmlab.runner import run_analysis


@pytest.mark.slow
@pytest.mark.parametrize("analysis", ANALYSES)
def test_run_equals_published(analysis, tmp_path):
    """The published summary is the result's, plus the report's key findings and period."""
    published = run_analysis(analysis, data_dir=SAMPLE_DIR, out_dir=tmp_path, progress=False)
    result = get(analysis).run(SAMPLE_DIR)
    summary = json.loads((published / "summary.json").read_text())
    expected = _to_json(result.summary())
    report = importlib.import_module(f"crmlab.reporting.{analysis}")
    expected["key_findings"] = report.key_findings(result)
    if report.data_period(result):
        expected["data_period"] = report.data_period(result)
    expected.pop("data_dir", None), summary.pop("data_dir", None)
    assert summary == expected
    written = sorted(p.stem for p in published.glob("*.csv"))
    assert written == sorted(result.tables)
    for name, table in result.tables.items():
        roundtrip = tmp_path / f"{name}.check.csv"
        table.to_csv(roundtrip, index=False, float_format="%.6g", lineterminator="\n")
        pd.testing.assert_frame_equal(pd.read_csv(published / f"{name}.csv"), pd.read_csv(roundtrip))


@pytest.mark.parametrize("analysis", ANALYSES)
def test_unknown_or_ill_typed_parameter_is_named(analysis):
    with pytest.raises(ParameterError, match="no_such_parameter"):
        get(analysis).run(SAMPLE_DIR, no_such_parameter=1)
    with pytest.raises(ParameterError, match="'seed' must be int"):
        get(analysis).run(SAMPLE_DIR, seed="abc")
