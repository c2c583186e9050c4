"""Reporting: what the notebooks show (display setup, tables, plots) and what they save.

Every report follows one house style (:mod:`crmlab.reporting.style`, the nbconvert
template in ``template/crmlab``): key findings first (:mod:`crmlab.reporting.findings`),
captioned tables and heat maps (:mod:`crmlab.reporting.tables`), the method last. The
checklist for a new report is ``docs/report-style.md``.
"""

from crmlab.reporting.display import rejects_note, setup_display
from crmlab.reporting.findings import publish_findings, show_findings
from crmlab.reporting.outputs import save_outputs
from crmlab.reporting.tables import table

__all__ = ["publish_findings", "rejects_note", "save_outputs", "setup_display", "show_findings", "table"]
