"""The output folder ``OUT``: its run folders, the cleanup of killed runs, the index.

A run of analysis ``A`` works in ``OUT/.tmp-A-<pid>-*`` and is swapped into ``OUT/A``
under the lock ``OUT/.A.lock``. A run killed with SIGKILL leaves its temporary folder;
the next run of ``A`` removes those whose process is gone.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

from filelock import FileLock

from crmlab import config


def output_root(out_dir: str | Path) -> Path:
    """``OUT`` made absolute and created.

    Raises
    ------
    OSError
        Saying why ``OUT`` cannot be the output folder (it is a file, cannot be
        created, or cannot be written into).
    """
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"the output folder (--out) {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"cannot create the output folder (--out) {out}: "
                       f"{err.strerror or err}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write into the output folder (--out) {out}: "
                              "permission denied")
    return out


def _umask() -> int:
    """The process umask (reading it means setting it; set it straight back)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def new_run_folder(out: Path, analysis: str) -> Path:
    """``OUT/.tmp-<analysis>-<pid>-*``, with the mode of a folder made under the umask.

    mkdtemp makes it 0700; it is published as ``OUT/<analysis>``, which a web server
    may need to read.
    """
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{analysis}-{os.getpid()}-", dir=out))
    except OSError as err:
        raise OSError(f"cannot create a folder in {out}: "
                       f"{err.strerror or err}") from None
    tmp.chmod(0o777 & ~_umask())
    return tmp


def remove_dead_runs(out: Path, analysis: str) -> list[Path]:
    """Remove ``.tmp-``/``.old-<analysis>-<pid>-*`` folders whose process is gone.

    Call under the analysis' lock. Runs of one process are sequential, so a folder
    with this process' pid is also left over (from an earlier process with the same
    pid, e.g. in a container).
    """
    removed = []
    for kind in (".tmp-", ".old-"):
        prefix = f"{kind}{analysis}-"
        for path in out.glob(f"{prefix}*"):
            pid = path.name[len(prefix):].split("-", 1)[0]
            if not pid.isdigit() or (int(pid) != os.getpid() and _alive(int(pid))):
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


def write_index(out_dir: str | Path) -> Path:
    """Write ``OUT/index.html`` linking every ``OUT/<analysis>/report.html``.

    Each row shows the report title, when it finished, how long it ran and its data
    directory, read from the analysis' ``run.json``.

    Parameters
    ----------
    out_dir : str or Path
        Output root ``OUT``.

    Returns
    -------
    Path
        The index file.

    Examples
    --------
    >>> write_index("reports")  # doctest: +SKIP
    PosixPath('reports/index.html')
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    order = {name: rank for rank, name in enumerate(config.ANALYSES)}
    reports = sorted((path.parent for path in out.glob("*/report.html")
                      if not path.parent.name.startswith(".")
                      and not path.parent.name.endswith(".failed")),
                     key=lambda folder: (order.get(folder.name, len(order)), folder.name))
    rows = []
    for folder in reports:
        try:
            run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            run = {}
        duration = run.get("duration_s")
        cells = [
            f'<a href="{quote(folder.name)}/report.html">'
            f"{html.escape(run.get('title') or folder.name)}</a>",
            html.escape(folder.name),
            html.escape(run.get("finished", "")),
            "" if duration is None else f"{duration:.1f} s",
            html.escape(str(run.get("data_dir", ""))),
        ]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    page = "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8"><title>crmlab reports</title>',
        "<style>body{font-family:sans-serif;margin:2em}"
        "th,td{padding:.3em 1em;text-align:left}</style></head>",
        "<body>",
        "<h1>crmlab reports</h1>",
        "<table>",
        "<thead><tr><th>Report</th><th>Analysis</th><th>Finished (UTC)</th>"
        "<th>Duration</th><th>Data</th></tr></thead>",
        "<tbody>", *rows, "</tbody>",
        "</table>",
        "</body>",
        "</html>",
        "",
    ])
    index = out / "index.html"
    with FileLock(out / ".index.lock"):
        partial = out / ".index.html.partial"
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, index)
    return index
