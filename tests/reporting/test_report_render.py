"""Every report as a manager opens it: rendered in headless Chromium.

Each analysis of ``config.ANALYSES`` has its committed, executed notebook (nbval keeps
its outputs current) rendered to ``report.html`` exactly as the runner does
(:func:`crmlab.reporting.html.report_html`), then opened in Debian's ``chromium`` through
``chromedriver`` (nothing downloaded). The page must log no console error, open with
``Key findings`` holding numbers, end with ``Method``, caption every table, show no bare
0..n index and no raw pandas printout.
A new analysis is covered as soon as it is in ``config.ANALYSES``.
"""

from __future__ import annotations

import os
import shutil

import nbformat
import pytest

from crmlab import config
from crmlab.reporting.findings import MAX_FINDINGS, MIN_FINDINGS
from crmlab.reporting.html import notebook_title, report_html

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--no-first-run", "--disable-component-update", "--disable-sync",
         "--window-size=1300,1000"]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="no browser: install Debian's chromium and chromium-driver "
           "(make browser, or apt-get install -y chromium chromium-driver)")]

#: The page's sections, the text of the first one, and the tables whose rows are labelled 0..n-1.
PAGE_FACTS = """
const headings = [...document.querySelectorAll('h2')];
const first = headings[0], second = headings[1];
let text = '', sentences = 0;
if (first) {
  let cell = first.closest('.jp-Cell') || first;
  text += cell.innerText + '\\n';
  for (let c = cell.nextElementSibling; c && !(second && c.contains(second)); c = c.nextElementSibling) {
    text += c.innerText + '\\n';
    sentences += c.querySelectorAll('li').length;
  }
}
const bare = [], uncaptioned = [];
for (const table of document.querySelectorAll('table')) {
  if (!table.caption || !table.caption.innerText.trim()) uncaptioned.push(table.outerHTML.slice(0, 300));
  const rows = [...table.querySelectorAll('tbody tr')];
  if (rows.length < 2) continue;
  const labels = rows.map(r => (r.cells[0] ? r.cells[0].innerText.trim() : ''));
  const header = table.querySelector('thead tr');
  const head = header && header.cells[0] ? header.cells[0].innerText.trim() : '';
  if (head === '' && labels.every((v, i) => v === String(i))) {
    bare.push(table.caption ? table.caption.innerText : table.outerHTML.slice(0, 200));
  }
}
return {headings: headings.map(h => h.innerText.replace('¶', '').trim()), first: text, bare: bare,
        uncaptioned: uncaptioned, sentences: sentences,
        body: document.body.innerText};
"""


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.mark.parametrize("analysis", config.ANALYSES)
def test_report_reads_like_a_report(analysis, browser, tmp_path):
    notebook = config.NOTEBOOKS_DIR / analysis / f"{analysis}.ipynb"
    if not notebook.is_file():
        pytest.skip(f"{analysis}: no committed notebook yet ({notebook})")
    nb = nbformat.read(notebook, as_version=4)
    page = tmp_path / "report.html"
    page.write_text(report_html(nb, notebook_title(nb) or analysis), encoding="utf-8")

    browser.get_log("browser")  # drop what an earlier page logged
    browser.get(page.as_uri())
    facts = browser.execute_script(PAGE_FACTS)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]

    assert errors == [], f"{analysis}: console errors {errors}"
    assert facts["headings"] and facts["headings"][0] == "Key findings", \
        f"{analysis}: the first section is {facts['headings'][:1]}, not Key findings"
    findings = facts["first"]
    assert sum(ch.isdigit() for ch in findings) >= 3, f"{analysis}: Key findings hold no numbers: {findings!r}"
    assert MIN_FINDINGS <= facts["sentences"] <= MAX_FINDINGS, \
        f"{analysis}: {facts['sentences']} key findings, not {MIN_FINDINGS} to {MAX_FINDINGS}"
    assert facts["headings"][-1] == "Method", f"{analysis}: the last section is {facts['headings'][-1:]}"
    assert facts["bare"] == [], f"{analysis}: tables with a bare 0..n index: {facts['bare']}"
    assert facts["uncaptioned"] == [], f"{analysis}: tables without a caption: {facts['uncaptioned']}"
    for printout in ("dtype:", "Name: ", "Empty DataFrame", "<pandas.", "Traceback"):
        assert printout not in facts["body"], f"{analysis}: raw pandas/Python printout {printout!r} in the report"
