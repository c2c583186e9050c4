"""Reporting: what the notebooks show (display setup, tables, plots) and what they save."""

from crmlab.reporting.display import setup_display
from crmlab.reporting.outputs import save_outputs

__all__ = ["save_outputs", "setup_display"]
