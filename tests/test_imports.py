"""No import cycles among isaprofile's modules, and every module imports on its own.

The graph is built from the source with :mod:`ast`: an edge ``a -> b`` for each ``import isaprofile.b`` /
``from isaprofile... import ...`` in ``a``. Module-level imports (including those in a class body or a
module-level ``if``/``try``) run when ``a`` is imported, so a cycle among them can break depending on which
module is imported first; imports inside a function (deferred) and under ``if TYPE_CHECKING:`` are
recorded but do not count for cycles.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "isaprofile"

# Cycles through function-level imports that are accepted (none: the BagIt engine's split/verify
# cycle of the first round is gone since the engine moved to isaprofile/bagit/).
KNOWN_CYCLES: set[frozenset[str]] = set()


def module_names() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: set[str]) -> list[str]:
    """The isaprofile modules an import statement in ``module`` loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in modules]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    out = []
    for alias in node.names:
        sub = f"{source}.{alias.name}"
        if sub in modules:
            out.append(sub)
        elif source in modules:
            out.append(source)
    return out


def import_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level edges, deferred edges) between isaprofile modules."""
    names = module_names()
    modules = set(names)
    eager: dict[str, set[str]] = {m: set() for m in names}
    deferred: dict[str, set[str]] = {m: set() for m in names}

    def visit(stmts: list[ast.stmt], module: str, is_package: bool, deferred_here: bool) -> None:
        for node in stmts:
            if isinstance(node, ast.Import | ast.ImportFrom):
                targets = _targets(node, module, is_package, modules)
                (deferred if deferred_here else eager)[module].update(t for t in targets if t != module)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        targets = _targets(inner, module, is_package, modules)
                        deferred[module].update(t for t in targets if t != module)
            elif isinstance(node, ast.If):
                lazy = deferred_here or _is_type_checking(node.test)
                visit(node.body, module, is_package, lazy)
                visit(node.orelse, module, is_package, deferred_here)
            elif isinstance(node, ast.ClassDef | ast.With | ast.For | ast.While):
                visit(node.body, module, is_package, deferred_here)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                    visit(block, module, is_package, deferred_here)

    for module, path in names.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        visit(tree.body, module, path.name == "__init__.py", False)
    return eager, deferred


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []
    counter = 0

    def strong(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_graph_sees_the_package() -> None:
    eager, deferred = import_graph()
    assert "isaprofile.findings.issues" in eager
    assert "isaprofile.findings.codes" in eager["isaprofile.findings.issues"]
    # the resolver and the cycle detector, on known inputs
    assert "isaprofile.package.phi" in deferred["isaprofile.pipeline"]  # a function-level import is seen
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset({"a", "b", "c"})]


def test_no_cycles_among_module_level_imports() -> None:
    eager, _ = import_graph()
    assert [sorted(c) for c in cycles(eager)] == []


def test_no_cycles_counting_deferred_imports() -> None:
    """A function-level import only hides a cycle: the two modules still depend on each other."""
    eager, deferred = import_graph()
    found = cycles({m: eager[m] | deferred[m] for m in eager})
    assert [sorted(c) for c in found if c not in KNOWN_CYCLES] == []
    assert not KNOWN_CYCLES


def test_codes_and_issues_are_not_a_cycle() -> None:
    eager, deferred = import_graph()
    assert "isaprofile.findings.codes" in eager["isaprofile.findings.issues"]
    assert (
        "isaprofile.findings.issues" not in eager["isaprofile.findings.codes"] | deferred["isaprofile.findings.codes"]
    )


def _loaded_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after running ``code``."""
    import json
    import subprocess
    import sys

    probe = code + "\nimport sys, json\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_a_dicom_only_harvest_never_loads_nibabel(tmp_path: Path) -> None:
    """Start-up is part of every command's time: nibabel (30 ms) loads only when a NIfTI file is read."""
    import pydicom.data

    source = pydicom.data.get_testdata_file("CT_small.dcm")
    code = f"from isaprofile.harvest.images import harvest_files\nharvest_files([{str(source)!r}])"
    loaded = _loaded_after(code)
    assert "pydicom" in loaded and "nibabel" not in loaded


def test_a_validate_served_by_the_cache_loads_no_image_reader(tmp_path: Path) -> None:
    """A re-run after a sheet fix: every header comes from the cache, so neither pydicom (0.3 s) nor nibabel
    is imported (reading a NIfTI header does import pydicom: nibabel.nifti1 loads it when installed)."""
    example = ROOT / "examples" / "enhance-petct"
    code = f"import os\nos.environ['ISAPROFILE_CACHE_DIR'] = {str(tmp_path)!r}\n"
    code += f"from isaprofile.dataset import validate\nassert validate({str(example)!r}, workers=1).valid\n"
    assert "nibabel" in _loaded_after(code)  # the cache is empty: every header is read
    assert not _loaded_after(code) & {"nibabel", "pydicom"}


def test_a_dicom_only_validate_with_the_cache_never_loads_nibabel(tmp_path: Path) -> None:
    example = ROOT / "examples" / "crlm-ct"
    code = f"import os\nos.environ['ISAPROFILE_CACHE_DIR'] = {str(tmp_path)!r}\n"
    code += f"from isaprofile.dataset import validate\nassert validate({str(example)!r}, workers=1).valid\n"
    loaded = _loaded_after(code)
    assert "pydicom" in loaded and "nibabel" not in loaded
    assert list(tmp_path.iterdir())  # the cache was used
    # the re-run: every record from the cache, grouped into series without pydicom (0.3-0.7 s to import)
    assert not _loaded_after(code) & {"nibabel", "pydicom"}


def test_verify_never_loads_the_phi_gate_or_an_image_reader(tmp_path: Path) -> None:
    """``verify`` hashes and reads tag files: a run without a terminal imports neither the PHI gate nor
    pydicom/nibabel, nor tqdm (only a bar on a terminal needs it)."""
    from tests._package_helpers import build

    bag = build(tmp_path).path
    run = f"import sys\nfrom isaprofile.cli.main import main\nsys.argv = ['isaprofile', 'verify', {str(bag)!r}]\n"
    run += "try:\n    main()\nexcept SystemExit as exit:\n    assert exit.code == 1, exit.code\n"  # no crate inside
    loaded = _loaded_after(run + "assert 'isaprofile.package.phi' not in sys.modules")
    assert "isaprofile" in loaded and not loaded & {"tqdm", "nibabel", "pydicom"}


def test_the_phi_gate_loads_its_readers_before_the_pool_forks(tmp_path: Path) -> None:
    """Each worker of a pool would import nibabel itself, once per pool, if the parent had not: the parent
    loads it before it forks (the landing page's previews do the same, with Pillow)."""
    example = ROOT / "examples" / "enhance-petct" / "imaging-data"
    files = {p.relative_to(example).as_posix(): str(p) for p in sorted(example.rglob("*.nii.gz"))[:4]}
    code = "import isaprofile.package.phi as phi\nphi._PARALLEL_MIN_FILES = 1\n"
    code += f"result = phi.check_phi({files!r}, workers=2)\nassert result.report.valid\n"
    assert {"nibabel", "pydicom"} <= _loaded_after(code)
