"""``report.html``: an executed notebook as a report in the house style.

The exporter uses the nbconvert template in ``template/crmlab`` (JupyterLab's layout,
the house CSS, nothing loaded from the network), hides every code cell and prompt, and
leaves out what is for the analyst, not the reader: warnings printed to standard error.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

TEMPLATE_DIR = Path(__file__).resolve().parent / "template"
TEMPLATE_NAME = "crmlab"


def _for_readers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without standard-error output (warnings, progress bars)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [output for output in cell.get("outputs", [])
                            if not (output.get("output_type") == "stream" and output.get("name") == "stderr")]
    return nb


def report_html(nb: nbformat.NotebookNode, title: str) -> str:
    """The notebook as a standalone HTML report titled ``title``, code hidden.

    Examples
    --------
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## Key findings")])
    >>> "Key findings" in report_html(nb, "Demo")
    True
    """
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATE_DIR)],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(_for_readers(nb), resources={"metadata": {"name": title}})
    return body


def notebook_title(nb: nbformat.NotebookNode) -> str | None:
    """The first markdown heading of the notebook, without its ``#`` marks."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return None


def write_report(notebook: str | Path, out: str | Path) -> Path:
    """Render an executed notebook file to ``out`` (e.g. the committed notebooks, for screenshots)."""
    nb = nbformat.read(notebook, as_version=4)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report_html(nb, notebook_title(nb) or Path(notebook).stem), encoding="utf-8")
    return out
