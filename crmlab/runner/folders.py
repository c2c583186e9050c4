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


INDEX_CSS = """
body{font-family:"DejaVu Sans","Helvetica Neue",Arial,sans-serif;color:#222;margin:0 auto;
max-width:1100px;padding:1.5em 2em 3em;line-height:1.45}
h1{border-bottom:3px solid #0072B2;padding-bottom:.3em;font-size:28px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:1.2em}
.card{border:1px solid #E3E6EA;border-top:4px solid #0072B2;border-radius:6px;padding:.8em 1.2em;
background:#fff}
.card h2{font-size:19px;margin:.2em 0 .1em}.card h2 a{color:#0072B2;text-decoration:none}
.card h2 a:hover{text-decoration:underline}
.meta{color:#5f6670;font-size:13px;margin:0 0 .6em}
.card ul{padding-left:1.2em;margin:.4em 0}.card li{margin:.25em 0;font-size:14px}
.none{color:#5f6670;font-style:italic;font-size:14px}
"""


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _inline(text: str) -> str:
    """A key-finding sentence as HTML: escaped, with Markdown ``**bold**`` and ``code``."""
    import re

    text = html.escape(str(text))
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _card(folder: Path) -> str:
    """One analysis as a card: its title (linked), run time, data period and key findings."""
    run = _read_json(folder / "run.json")
    summary = _read_json(folder / "summary.json")
    duration = run.get("duration_s")
    meta = [f"{html.escape(folder.name)}",
            f"finished {html.escape(run.get('finished', '').replace('T', ' ').removesuffix('+00:00'))} UTC"
            if run.get("finished") else "",
            "" if duration is None else f"ran {duration:.1f} s",
            f"data {html.escape(str(summary['data_period']))}" if summary.get("data_period") else "",
            f"from {html.escape(str(run.get('data_dir', '')))}" if run.get("data_dir") else ""]
    findings = summary.get("key_findings") or []
    body = ("<ul>" + "".join(f"<li>{_inline(sentence)}</li>" for sentence in findings) + "</ul>"
            if findings else '<p class="none">No key findings recorded: open the report.</p>')
    return "\n".join([
        '<section class="card">',
        f'<h2><a href="{quote(folder.name)}/report.html">'
        f"{html.escape(run.get('title') or folder.name)}</a></h2>",
        f'<p class="meta">{" · ".join(part for part in meta if part)}</p>',
        body,
        "</section>",
    ])


def write_index(out_dir: str | Path) -> Path:
    """Write ``OUT/index.html``: one card per ``OUT/<analysis>/report.html``.

    Each card links the report and shows when it finished, how long it ran, the data
    period and directory (from ``run.json`` and ``summary.json``) and the analysis' key
    findings (the ``key_findings`` entry of its ``summary.json``).

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
    page = "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8"><title>crmlab reports</title>',
        f"<style>{INDEX_CSS}</style></head>",
        "<body>",
        "<h1>crmlab reports</h1>",
        '<div class="cards">',
        *(_card(folder) for folder in reports),
        "</div>",
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
