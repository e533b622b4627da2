"""The GitHub Action's ``run:`` steps, run as shell scripts the way a runner does, and the pre-commit hook.

The ``uses:`` steps (setup-python, upload-sarif) are the runner's business and are skipped: a fresh venv
stands in for setup-python and sees the test environment's packages through a .pth file, so the install
step (``pip install`` of the action's folder) needs no network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "preclinical-liver"
EXPR = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def _action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def _evaluate(text: str, context: dict[str, str]) -> str:
    """The ``${{ … }}`` expressions the action's run steps use (plain context look-ups)."""

    def one(m: re.Match) -> str:
        key = m.group(1)
        if key not in context:
            raise AssertionError(f"action.yml uses an expression the test does not know: {key}")
        return context[key]

    return EXPR.sub(one, text)


def _run_steps(workspace: Path, inputs: dict[str, str], tmp: Path) -> tuple[list[str], dict[str, str], int]:
    action = _action()
    assert action["runs"]["using"] == "composite"
    source = tmp / "action"  # a copy, so that pip's in-tree build leaves the checkout alone
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "tests", "examples", "build", "*.egg-info",
                                                                "__pycache__", "benchmarks", "docs"))  # fmt: skip
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    here = [p for p in sys.path if p.endswith("site-packages")]
    (site / "test-env.pth").write_text("\n".join(here) + "\n", encoding="utf-8")
    defaults = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    context = {f"inputs.{k}": v for k, v in {**defaults, **inputs}.items()}
    context["github.action_path"] = str(source)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "GITHUB_"))}
    base_env.update(PATH=f"{env_dir / 'bin'}{os.pathsep}{base_env['PATH']}", GITHUB_ACTIONS="true",
                    PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", GITHUB_WORKSPACE=str(workspace))  # fmt: skip
    ran, last = [], 0
    for step in action["runs"]["steps"]:
        if "uses" in step:
            continue
        assert step["shell"] == "bash"
        output = tmp / f"output-{len(ran)}"
        output.write_text("", encoding="utf-8")
        env = {**base_env, "GITHUB_OUTPUT": str(output)}
        env.update({k: _evaluate(str(v), context) for k, v in step.get("env", {}).items()})
        script = _evaluate(step["run"], context)
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=workspace,
                              env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
        ran.append(step["name"])
        last = proc.returncode
        for line in output.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            context[f"steps.{step.get('id')}.outputs.{key}"] = value
        if step["name"] == "Install isaprofile":
            assert proc.returncode == 0, proc.stdout + proc.stderr
        if step["name"] == "Validate":
            context["_annotations"] = proc.stderr
        if proc.returncode != 0:
            break
    outputs = {k.split(".")[-1]: v for k, v in context.items() if k.startswith("steps.")}
    outputs["annotations"] = context.get("_annotations", "")
    return ran, outputs, last


@pytest.mark.skipif(shutil.which("bash") is None, reason="the action's steps are bash scripts")
def test_action_steps_validate_the_example_and_fail_on_an_invalid_one(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(EXAMPLE, workspace / "data" / "liver")
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    ran, outputs, code = _run_steps(workspace, {"path": "data/liver"}, tmp_path / "valid")
    assert ran == ["Install isaprofile", "Validate", "Fail when the dataset is invalid"]
    assert code == 0 and outputs["exit-code"] == "0"
    doc = json.loads((workspace / "isaprofile.sarif").read_text(encoding="utf-8"))
    assert doc["version"] == "2.1.0" and doc["runs"][0]["results"] == []

    (workspace / "data/liver/images/HCC-01/HCC-01-w0-mri.nii.gz").unlink()
    ran, outputs, code = _run_steps(workspace, {"path": "data/liver", "strict": "true"}, tmp_path / "invalid")
    assert outputs["exit-code"] == "1" and code == 1  # the last step fails the job after the upload
    (result,) = json.loads((workspace / "isaprofile.sarif").read_text(encoding="utf-8"))["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "data/liver/metadata.xlsx"
    assert "::error file=data/liver/metadata.xlsx," in outputs["annotations"]


def test_action_and_hook_declarations() -> None:
    action = _action()
    assert set(action["inputs"]) >= {"path", "profile", "strict"}
    uses = [s["uses"] for s in action["runs"]["steps"] if "uses" in s]
    assert uses == ["actions/setup-python@v5", "github/codeql-action/upload-sarif@v3"]
    upload = next(s for s in action["runs"]["steps"] if s.get("uses", "").startswith("github/codeql-action"))
    assert "always()" in upload["if"]  # a SARIF is uploaded for an invalid or unreadable dataset too
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "isaprofile-validate" and hook["entry"] == "isaprofile validate"
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert files.search("data/x/isaprofile.yaml") and files.search("isa/s_study.txt")
    assert not files.search("README.md")
