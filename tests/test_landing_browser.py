"""The three examples' landing pages and the HTML report in a real headless browser (Debian's chromium).

Each page is rendered twice: ``--dump-dom`` gives the DOM after parsing (checked: title, DOI, the scan table,
the schema.org JSON-LD parsed and checked, no console messages), ``--screenshot`` a PNG at desktop and phone
width. Screenshots are saved in the test's tmp folder (their paths are printed and attached to the test as
``screenshot`` properties); set ``ISAPROFILE_SCREENSHOTS=DIR`` to also copy them to DIR.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from isaprofile.cli.main import cli
from isaprofile.package.deposit import package_dataset

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)"
)
PNG = b"\x89PNG\r\n\x1a\n"
# Headless chromium lays a page out at least 500 CSS px wide (a narrower window is clipped, not reflowed),
# so the narrow screenshot is 500 px: a large phone in portrait.
WIDTHS = {"desktop": "1280,2200", "phone": "500,2600"}


def _chromium(tmp: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    args = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
            "--disable-extensions", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
            *extra, url]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, timeout=180, env={**os.environ, "HOME": str(tmp)})
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc


def _console_messages(stderr: bytes) -> list[str]:
    """What the page logged: chromium prints console messages and uncaught errors as ``CONSOLE(...)`` lines."""
    return [line for line in stderr.decode(errors="replace").splitlines() if ":CONSOLE" in line or "Uncaught" in line]


class Dom(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.jsonld: list[str] = []
        self.ids: set[str] = set()
        self.h1 = ""
        self.rows = 0
        self._where: list[str] = []
        self._script: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        self._where.append(tag)
        if d.get("id"):
            self.ids.add(d["id"])
        if tag == "script":
            self._script = d.get("type") or ""
            self.jsonld.append("") if self._script == "application/ld+json" else None
        if tag == "tr":
            self.rows += 1

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None
        if self._where and self._where[-1] == tag:
            self._where.pop()

    def handle_data(self, data):
        if self._script == "application/ld+json":
            self.jsonld[-1] += data
        elif self._where and self._where[-1] == "h1":
            self.h1 += data


def _shoot(tmp: Path, page: Path, name: str, shots: list[Path]) -> None:
    for kind, size in WIDTHS.items():
        png = tmp / "screens" / f"{name}-{kind}.png"
        png.parent.mkdir(exist_ok=True)
        proc = _chromium(tmp, page.as_uri(), f"--screenshot={png}", f"--window-size={size}", "--hide-scrollbars")
        assert png.read_bytes().startswith(PNG) and png.stat().st_size > 10_000
        assert _console_messages(proc.stderr) == []
        shots.append(png)


def _report(shots: list[Path], record_property) -> None:
    target = os.environ.get("ISAPROFILE_SCREENSHOTS")
    for png in shots:
        record_property("screenshot", str(png))
        print(f"screenshot: {png}")
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copy2(png, Path(target) / png.name)


@pytest.mark.parametrize("name", ["preclinical-liver", "crlm-ct", "enhance-petct"])
def test_landing_page_in_chromium(name: str, request, tmp_path: Path, record_property) -> None:
    fixture = {"preclinical-liver": "example", "crlm-ct": "crlm", "enhance-petct": "enhance"}[name]
    result = package_dataset(request.getfixturevalue(fixture), tmp_path / "pkg")
    assert result.path is not None
    page = result.path / "data" / "index.html"
    dump = _chromium(tmp_path, page.as_uri(), "--dump-dom")
    assert _console_messages(dump.stderr) == []
    dom = Dom(dump.stdout.decode("utf-8"))
    schema = json.loads((result.path / "data" / "metadata" / "schema-org.jsonld").read_bytes())
    (jsonld,) = [json.loads(text) for text in dom.jsonld]
    assert jsonld["@type"] == "Dataset" and jsonld["name"] == schema["name"] == dom.h1
    assert jsonld["license"] == schema["license"] and jsonld["creator"] == schema["creator"]
    assert {"doi", "facts", "cite", "bibtex", "counts", "per-modality", "scan-table", "metadata"} <= dom.ids
    n_scans = {"preclinical-liver": 18, "crlm-ct": 3, "enhance-petct": 6}[name]
    assert dom.rows >= n_scans + 1
    if name == "enhance-petct":
        assert "licences" in dom.ids  # per-subject licences
    shots: list[Path] = []
    _shoot(tmp_path, page, f"landing-{name}", shots)
    _report(shots, record_property)


def test_html_report_in_chromium(example: Path, tmp_path: Path, record_property) -> None:
    (example / "images/HCC-01/HCC-01-w0-mri.nii.gz").unlink()
    wb = openpyxl.load_workbook(example / "metadata.xlsx")
    sex = [c.value for c in wb["Subjects"][1]].index("Sex") + 1
    for row in (2, 3, 4, 5):
        wb["Subjects"].cell(row=row, column=sex, value="unknown")
    wb.save(example / "metadata.xlsx")
    out = tmp_path / "report.html"
    res = CliRunner().invoke(cli, ["validate", str(example), "--format", "html", "-o", str(out)])
    assert res.exit_code == 1
    dump = _chromium(tmp_path, out.as_uri(), "--dump-dom")
    dom = Dom(dump.stdout.decode("utf-8"))
    assert {"verdict", "summary", "codes", "data-file-missing", "value-not-allowed"} <= dom.ids
    assert dom.jsonld == [] and _console_messages(dump.stderr) == []
    shots: list[Path] = []
    _shoot(tmp_path, out, "html-report", shots)
    _report(shots, record_property)


def test_console_messages_are_seen(tmp_path: Path) -> None:
    """The console check above is not vacuous: a page that logs and throws is caught."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("boom"); missing();</script></body></html>')
    found = _console_messages(_chromium(tmp_path, page.as_uri(), "--dump-dom").stderr)
    assert len(found) == 2 and '"boom"' in found[0] and "Uncaught ReferenceError" in found[1]
