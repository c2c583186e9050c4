"""``crmlab app``: the managers' dashboard, served in the browser by Voilà.

Voilà runs ``crmlab/app/dashboard.ipynb`` in a kernel and shows only its widgets: no
code, no JupyterLab. The notebook builds :class:`crmlab.app.dashboard.Dashboard`, whose
views call the analysis API (:mod:`crmlab.analyses`) and reporting, never copies of
their logic:

- **Segments** (:mod:`crmlab.app.segments`): grading weights and grade thresholds as
  sliders, region → territory → specialty filters, grades per region, call-plan
  compliance by rep and the grade shift against the published grading, recomputed
  live;
- **Early warning** (:mod:`crmlab.app.early_warning`): churn's early-warning and win-back
  lists filtered by region, territory and minimum volume at stake, with their reasons.

Where the results come from (:mod:`crmlab.app.sources`): ``--data DIR`` computes on a
data directory (default: the committed sample); ``--reports DIR`` reads the last
published runs (``crmlab run``), which is how national-scale data are shown without
minutes of recomputation. The server binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: The Voilà notebook, inside the package (notebooks/ holds the analyses only).
NOTEBOOK = Path(__file__).with_name("dashboard.ipynb")
#: Where the dashboard's Voilà template lives (``voila/templates/crmlab``: lab, without CDN links).
JUPYTER_DATA = Path(__file__).with_name("jupyter")
#: The front-end extensions the dashboard needs (ipywidgets 8 and Voilà's manager for it).
WIDGET_EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "@voila-dashboards/widgets-manager8")
#: Environment variables through which ``crmlab app`` tells the kernel what to show.
DATA_ENV, REPORTS_ENV = "CRMLAB_APP_DATA", "CRMLAB_APP_REPORTS"


def voila_command(*, port: int = 8866, host: str = "127.0.0.1") -> list[str]:
    """The command line that serves the dashboard with Voilà.

    Examples
    --------
    >>> voila_command(port=9000)[1:3]
    ['-m', 'voila']
    >>> "--Voila.ip=127.0.0.1" in voila_command()
    True
    """
    return [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}",
            f"--Voila.ip={host}", "--theme=light", "--template=crmlab", "--VoilaConfiguration.show_tracebacks=False",
            # only the widget managers: other JupyterLab extensions in the environment
            # (jupytext's, for one) fail to load in Voilà and log errors in the console
            *(f"--VoilaConfiguration.extension_allowlist={name}" for name in WIDGET_EXTENSIONS)]


def app_environment(*, data: str | Path | None = None, reports: str | Path | None = None) -> dict:
    """The environment of the Voilà server: the data or reports folder as absolute paths."""
    from crmlab.config import resolve_path

    env = {k: v for k, v in os.environ.items() if k not in (DATA_ENV, REPORTS_ENV)}
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(JUPYTER_DATA), os.environ.get("JUPYTER_PATH")) if p)
    if data is not None:
        env[DATA_ENV] = str(resolve_path(data))
    if reports is not None:
        env[REPORTS_ENV] = str(resolve_path(reports))
    return env


def serve(*, data: str | Path | None = None, reports: str | Path | None = None, port: int = 8866,
          host: str = "127.0.0.1") -> int:
    """Serve the dashboard until interrupted (Ctrl-C): this process becomes the Voilà server."""
    where = f"http://{'localhost' if host in ('127.0.0.1', 'localhost') else host}:{port}/"
    env = app_environment(data=data, reports=reports)
    print(f"crmlab app: serving the managers' dashboard at {where} (Ctrl-C to stop)", flush=True)
    command = voila_command(port=port, host=host)
    os.execve(command[0], command, env)
