"""Screenshots of the sample reports for the docs (``make screenshots``).

Renders each analysis' committed, executed notebook as ``report.html`` (as the runner
does) and saves the top of the page as ``docs/report-<analysis>.png``, using Debian's
headless ``chromium`` and ``chromedriver`` (nothing is downloaded).

Run: ``python -m crmlab.reporting.screenshots [--out docs] [--height 1400]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from crmlab import config
from crmlab.reporting.html import write_report


def screenshots(out: Path, height: int = 1400, width: int = 1200) -> list[Path]:
    """Save one PNG per analysis with a committed notebook; returns the files written."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--hide-scrollbars", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    written = []
    out.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="crmlab-screens-") as tmp:
            for analysis in config.ANALYSES:
                notebook = config.NOTEBOOKS_DIR / analysis / f"{analysis}.ipynb"
                if not notebook.is_file():
                    continue
                page = write_report(notebook, Path(tmp) / f"{analysis}.html")
                driver.get(page.as_uri())
                target = out / f"report-{analysis}.png"
                driver.save_screenshot(str(target))
                written.append(target)
    finally:
        driver.quit()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(config.PROJECT_ROOT / "docs"))
    parser.add_argument("--height", type=int, default=1400)
    args = parser.parse_args(argv)
    for path in screenshots(Path(args.out), args.height):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
