"""Report formats for CI: SARIF valid against the 2.1.0 schema with repository-relative URIs, a report on
exit 2, GitHub annotations, grouped text output and the HTML report."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import openpyxl
import pytest
from click.testing import CliRunner

from isaprofile.cli.main import cli
from isaprofile.findings.issues import Report, issue
from isaprofile.findings.render import cause, group, render, repository_root

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "preclinical-liver"


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def check_sarif(doc: dict) -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git work tree holding a broken copy of the preclinical example under data/liver (one missing image)."""
    root = tmp_path / "repo"
    dataset = root / "data" / "liver"
    shutil.copytree(EXAMPLE, dataset)
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(root)], check=True)
    else:  # what repository_root looks for
        (root / ".git").mkdir()
    (dataset / "images/HCC-01/HCC-01-w0-mri.nii.gz").unlink()
    return root


def test_sarif_is_schema_valid_with_uris_relative_to_the_repository(repo: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the current folder plays no part when the dataset is in a git work tree
    res = run("validate", repo / "data" / "liver", "--format", "sarif")
    assert res.exit_code == 1, res.output
    doc = json.loads(res.output)
    check_sarif(doc)
    (run_,) = doc["runs"]
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.as_uri() + "/"
    (result,) = run_["results"]
    assert result["ruleId"] == "data-file-missing" and result["level"] == "error"
    assert run_["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "data-file-missing"
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "data/liver/metadata.xlsx", "uriBaseId": "%SRCROOT%"}
    assert physical["region"]["startLine"] >= 2
    assert run_["invocations"] == [{"executionSuccessful": True}]
    assert repository_root(repo / "data" / "liver") == repo


def test_sarif_names_no_made_up_project_url() -> None:
    doc = json.loads(render(Report([issue("data-file-missing", file="a b.xlsx", line=3, target="x")]), "sarif"))
    check_sarif(doc)
    driver = doc["runs"][0]["tool"]["driver"]
    assert "informationUri" not in driver  # the project has no public URL; its metadata names none
    assert not any("helpUri" in r for r in driver["rules"])
    uri = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.endswith("a%20b.xlsx")  # a URI, percent-encoded


def test_outside_any_repository_uris_are_relative_to_the_current_folder(tmp_path: Path, monkeypatch) -> None:
    dataset = tmp_path / "work" / "liver"
    shutil.copytree(EXAMPLE, dataset)
    (dataset / "images/HCC-01/HCC-01-w0-mri.nii.gz").unlink()
    monkeypatch.chdir(tmp_path / "work")
    doc = json.loads(run("validate", "liver", "--format", "sarif").output)
    loc = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc == {"uri": "liver/metadata.xlsx", "uriBaseId": "%SRCROOT%"}
    assert doc["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == (tmp_path / "work").as_uri() + "/"


def test_unreadable_input_still_writes_a_valid_sarif(tmp_path: Path) -> None:
    out = tmp_path / "report.sarif"
    res = run("validate", tmp_path / "absent", "--format", "sarif", "-o", out)
    assert res.exit_code == 2
    doc = json.loads(out.read_text(encoding="utf-8"))
    check_sarif(doc)
    (run_,) = doc["runs"]
    assert run_["results"] == []
    (inv,) = run_["invocations"]
    assert inv["executionSuccessful"] is False and inv["exitCode"] == 2
    (note,) = inv["toolExecutionNotifications"]
    assert note["level"] == "error" and "absent" in note["message"]["text"]
    # an unknown profile is exit 2 as well, and JSON says why
    res = run("validate", EXAMPLE, "--profile", "no-such-profile", "--format", "json")
    assert res.exit_code == 2
    doc = json.loads(res.stdout)
    assert doc["valid"] is False and "no-such-profile" in doc["error"]


def test_github_annotations(repo: Path) -> None:
    dataset = repo / "data" / "liver"
    res = run("validate", dataset, "--format", "github")
    assert res.exit_code == 1
    (line,) = res.stdout.splitlines()
    assert re.fullmatch(r"::error file=data/liver/metadata\.xlsx,line=\d+,col=\d+,title=data-file-missing::.+", line)
    # inside GitHub Actions, any format also annotates on stderr
    res = run("validate", dataset, "--format", "json", env={"GITHUB_ACTIONS": "true"})
    assert json.loads(res.stdout)["issues"][0]["code"] == "data-file-missing"
    assert res.stderr.startswith("::error file=data/liver/metadata.xlsx,")
    res = run("validate", dataset, "--format", "json", env={"GITHUB_ACTIONS": "false"})
    assert res.stderr == ""
    res = run("validate", repo / "absent", env={"GITHUB_ACTIONS": "true"})  # exit 2: annotated too
    assert res.exit_code == 2
    assert res.stderr.splitlines()[1].startswith("::error title=isaprofile::") and "absent" in res.stderr


def test_github_annotations_escape_and_cap() -> None:
    issues = [issue("data-file-missing", file=f"m{n}.xlsx", line=n + 1, target=f"x{n}") for n in range(12)]
    issues.append(issue("isatab-unreadable", file="a,b:c.txt", reason="50%\nbroken"))
    lines = render(Report(issues), "github").splitlines()
    assert len([x for x in lines if x.startswith("::error file=m")]) == 10
    assert lines[10] == (
        "::error title=data-file-missing::2 more data-file-missing finding(s) not annotated "
        "(the SARIF or JSON report lists all)"
    )
    (odd,) = [x for x in lines if "isatab-unreadable" in x]
    assert odd.startswith("::error title=isatab-unreadable::")  # 11th error: beyond the cap, so summarised
    text = render(Report([issues[-1]]), "github")
    assert text == "::error file=a%2Cb%3Ac.txt,title=isatab-unreadable::cannot read a,b:c.txt: 50%25%0Abroken\n"


def test_text_output_groups_findings_of_one_code_and_cause() -> None:
    many = [issue("phi-attribute", file=f"s{n:02}/1.dcm", path="(0010,0030) PatientBirthDate", action="X")
            for n in range(27)]  # fmt: skip
    other = [issue("phi-attribute", file="s00/1.dcm", path="(0008,0020) StudyDate", action="Z")]
    few = [issue("required-missing", file="m.xlsx", line=n, field="sex") for n in (2, 3)]
    report = Report(many + other + few)
    assert [len(g) for g in group(report.issues)] == [27, 1, 2]
    assert cause(many[0]) == ("X",) and cause(other[0]) == ("Z",)
    lines = render(report, "text").splitlines()
    assert lines[0] == "error: 27 × Identifying DICOM attribute [phi-attribute], for example:"
    assert lines[1:4] == [f"    {m.where()}: error: {m.message} [phi-attribute]" for m in many[:3]]
    assert lines[4] == "    … and 24 more like these (every one is in --format json or sarif)"
    hint = "    hint: De-identify the file, or allow the attribute in the dataset config with a reason."
    assert lines[5:8] == [hint, f"{other[0].where()}: error: {other[0].message} [phi-attribute]", hint]
    assert [x for x in lines if "required-missing" in x] == [
        "m.xlsx:2: error: required field 'sex' has no value [required-missing]",
        "m.xlsx:3: error: required field 'sex' has no value [required-missing]",
    ]
    assert lines[-1] == "INVALID: 30 error(s), 0 warning(s), 0 note(s)"
    # JSON and SARIF stay complete
    assert len(json.loads(render(report, "json"))["issues"]) == 30
    assert len(json.loads(render(report, "sarif"))["runs"][0]["results"]) == 30


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: list[str] = []
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        d = dict(attrs)
        if tag == "a" and d.get("href"):
            self.links.append(d["href"])
        if d.get("id"):
            self.ids.append(d["id"])

    def handle_data(self, data):
        self.text.append(data)


def test_html_report_content(repo: Path, tmp_path: Path) -> None:
    dataset = repo / "data" / "liver"
    wb = openpyxl.load_workbook(dataset / "metadata.xlsx")
    sex = [c.value for c in wb["Subjects"][1]].index("Sex") + 1
    wb["Subjects"].cell(row=2, column=sex, value="<script>alert(1)</script>")
    wb.save(dataset / "metadata.xlsx")
    out = tmp_path / "report.html"
    res = run("validate", dataset, "--format", "html", "-o", out)
    assert res.exit_code == 1
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page  # the value is never shown, and any text is escaped
    p = _Collect()
    p.feed(page)
    text = " ".join(p.text)
    assert "INVALID" in text and "data/liver" in text
    assert {"summary", "codes", "data-file-missing", "value-not-allowed"} <= set(p.ids)
    assert "docs/reference/codes.md#data-file-missing" in p.links
    assert "docs/reference/codes.md#value-not-allowed" in p.links
    assert re.search(r"data/liver/metadata\.xlsx:2:\d+ \(sheet 'Subjects', column 'Sex'\)", text)
    assert not any(t in p.tags for t in ("script", "link", "img", "iframe"))  # self-contained, nothing fetched
    summary = page[page.index('id="summary"') :]
    assert re.search(r"<td>2</td><td>0</td><td>0</td><td>2</td>", summary)  # 2 errors, 2 codes


def test_html_escapes_messages() -> None:
    bad = issue("isatab-unreadable", file="<b>x</b>.txt", reason="<script>alert(1)</script>")
    page = render(Report([bad]), "html")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;x&lt;/b&gt;.txt" in page
    unreadable = render(Report(), "html", failure="cannot read <x>")
    assert "cannot read &lt;x&gt;" in unreadable and "INVALID" in unreadable
