"""Reporting: what the notebooks show (display setup, tables, plots) and what they save."""

from crmlab.reporting.display import rejects_note, setup_display
from crmlab.reporting.outputs import save_outputs

__all__ = ["rejects_note", "save_outputs", "setup_display"]
