"""The human side of a package: ``README.md``, a static ``index.html`` dataset card and scan previews.

Previews are small PNGs of the middle slice of each scan, made from the pixel data (NIfTI with nibabel,
DICOM with pydicom); a scan whose pixels cannot be read gets no preview and a warning.
"""

from __future__ import annotations

import html
import io
from collections import Counter
from pathlib import Path

from isaprofile.findings.issues import Report, issue
from isaprofile.model import Investigation, Scan

PREVIEW_SIZE = 128


def _middle_slice(path: Path):  # -> numpy array (2-D)
    import numpy as np

    if path.is_dir():  # a DICOM series folder: the middle file
        files = sorted(p for p in path.rglob("*") if p.is_file())
        path = files[len(files) // 2]
    if path.name.endswith((".nii", ".nii.gz")):
        import nibabel as nib

        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
        while data.ndim > 3:
            data = data[..., 0]
        return data[:, :, data.shape[2] // 2] if data.ndim == 3 else data
    import pydicom

    ds = pydicom.dcmread(str(path))
    arr = ds.pixel_array
    return arr[arr.shape[0] // 2] if arr.ndim == 3 else arr


def preview_png(path: Path) -> bytes:
    """A grey-scale PNG (at most 128 px) of the middle slice of the image at ``path``."""
    import numpy as np
    from PIL import Image

    sl = np.asarray(_middle_slice(path), dtype=float)
    lo, hi = np.percentile(sl, 1), np.percentile(sl, 99)
    scaled = np.clip((sl - lo) / (hi - lo if hi > lo else 1.0) * 255, 0, 255).astype(np.uint8)
    img = Image.fromarray(np.rot90(scaled))
    img.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)  # Pillow writes no timestamp: deterministic bytes
    return buf.getvalue()


def previews(inv: Investigation, root: Path) -> tuple[dict[str, bytes], Report]:
    """``previews/<scan>.png`` → PNG bytes for every scan with a readable image."""
    out: dict[str, bytes] = {}
    report = Report()
    for study in inv.studies:
        for scan in study.scans:
            if not scan.files:
                continue
            try:
                out[f"previews/{_safe(scan.id)}.png"] = preview_png(root / scan.files[0].path)
            except (OSError, ValueError, IndexError, RuntimeError, AttributeError, TypeError) as exc:
                report.add(issue("preview-failed", file=scan.files[0].path, reason=type(exc).__name__))
    return out, report


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _time_point(scan: Scan, samples: dict) -> str:
    smp = samples.get(scan.sample)
    if smp is None:
        return ""
    for v in smp.factors.values():
        unit = f" {v.unit.label}" if v.unit else ""
        return f"{v.text()}{unit}"
    return ""


def _summary(inv: Investigation) -> tuple[list[tuple[str, int]], list[tuple[str, str, int]], list[list[str]]]:
    modal: Counter = Counter()
    per_tp: Counter = Counter()
    rows = []
    for study in inv.studies:
        samples = {s.id: s for s in study.samples}
        for scan in study.scans:
            tp = _time_point(scan, samples)
            modal[scan.modality] += 1
            per_tp[(scan.modality, tp)] += 1
            subject = samples[scan.sample].subject if scan.sample in samples else ""
            rows.append([study.identifier, subject, scan.id, scan.modality, tp,
                         scan.files[0].path if scan.files else "", str(len(scan.segmentations))])  # fmt: skip
    return sorted(modal.items()), [(m, t, n) for (m, t), n in sorted(per_tp.items())], rows


def readme(inv: Investigation, allow_invalid: bool = False) -> bytes:
    """The package's README.md."""
    modal, per_tp, rows = _summary(inv)
    n_subj = sum(len(s.subjects) for s in inv.studies)
    lines = [f"# {inv.title or inv.identifier}", "", inv.description, ""]
    if allow_invalid:
        lines += ["> **This package was built from a dataset that did not pass validation** "
                  "(`--allow-invalid`); see `metadata/validation-report.json`.", ""]  # fmt: skip
    lines += [
        f"- Creators: {', '.join(p.name for p in inv.contacts) or '—'}",
        f"- Licence(s): {', '.join(inv.licences) or '—'}",
        f"- Subjects: {n_subj}; scans: {len(rows)} ({', '.join(f'{m}: {n}' for m, n in modal)})",
        f"- Profile: {inv.profile or '—'}",
        "",
        "## Scans per modality and time point",
        "",
        "| Modality | Time point | Scans |",
        "|---|---|---|",
    ]
    lines += [f"| {m} | {t or '—'} | {n} |" for m, t, n in per_tp]
    lines += ["", "## Layout", "", "- `data/` — the images and segmentations as deposited, never modified",
              "- `data/metadata/isatab/` — ISA-Tab; `data/ro-crate-metadata.json` — RO-Crate",
              "- `data/metadata/` — ISA-JSON, DataCite, Zenodo and schema.org metadata; `data/datapackage.json`",
              "- `manifest-sha256.txt`, `manifest-sha512.txt` — fixity of every payload file (BagIt)", ""]  # fmt: skip
    return "\n".join(lines).encode("utf-8")


def index_html(inv: Investigation, preview_names: set[str]) -> bytes:
    """A static dataset card: title, creators, licences, counts and a table of scans with previews."""
    e = html.escape
    modal, per_tp, rows = _summary(inv)
    body = [f"<h1>{e(inv.title or inv.identifier)}</h1>", f"<p>{e(inv.description)}</p>",
            f"<p><b>Creators:</b> {e(', '.join(p.name for p in inv.contacts))}</p>",
            f"<p><b>Licence(s):</b> {e(', '.join(inv.licences))}</p>",
            "<h2>Scans per modality and time point</h2>",
            "<table><tr><th>Modality</th><th>Time point</th><th>Scans</th></tr>"]  # fmt: skip
    body += [f"<tr><td>{e(m)}</td><td>{e(t)}</td><td>{n}</td></tr>" for m, t, n in per_tp]
    body.append("</table><h2>Scans</h2><table><tr><th>Study</th><th>Subject</th><th>Scan</th><th>Modality</th>"
                "<th>Time point</th><th>Image</th><th>Segmentations</th><th>Preview</th></tr>")  # fmt: skip
    for r in rows:
        name = f"previews/{_safe(r[2])}.png"
        img = f'<img src="{e(name)}" alt="middle slice of {e(r[2])}" width="96">' if name in preview_names else ""
        body.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + f"<td>{img}</td></tr>")
    body.append("</table>")
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{e(inv.title or inv.identifier)}</title>"
            "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")  # fmt: skip
    return page.encode("utf-8")
