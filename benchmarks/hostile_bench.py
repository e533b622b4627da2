"""Time and peak RSS of the PHI gate, the payload selection and the image integrity checks on hostile inputs
(issue 10): each case runs in a fresh Python process, so its peak RSS is its own.

    PYTHONPATH=. python benchmarks/hostile_bench.py [--case NAME] [--scale 1.0]

Cases (sizes scale with ``--scale``):

- ``blob``: a 200 MB ``blob.bin`` and 2,000 unrecognised / hidden files in a series folder (payload selection)
- ``deep-dicom``: a DICOM nested 5,000 sequences deep (PHI gate and harvest integrity check)
- ``deep-sidecar``: a JSON sidecar nested 200,000 deep (PHI gate)
- ``utf16-extension``: a NIfTI whose 8 MB comment extension is UTF-16 (PHI gate)
- ``big-nifti``: a 1 GiB all-zero NIfTI (header checks and harvest, no full read into memory)
- ``links``: 1,000 symbolic links out of the dataset and a link loop (payload selection)
- ``truncated``: 2,000 DICOM files, each cut at a different byte (integrity check)

Prints one line per case: the result (finding codes and counts), seconds and peak RSS in MB. No
thresholds are asserted: the numbers are for people to read.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

CASES = ("blob", "deep-dicom", "deep-sidecar", "utf16-extension", "big-nifti", "links", "truncated")


def _clean_ct():
    import pydicom
    from pydicom.data import get_testdata_file

    from isaprofile.package.phi import annex_e

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for entry in annex_e().values():
        if entry.action != "U" and "X" not in entry.tag and entry.keyword in ds:
            delattr(ds, entry.keyword)
    ds.remove_private_tags()
    ds.PatientID = ds.PatientName = "sub-01"
    ds.PatientIdentityRemoved = "YES"
    return ds


def _codes(report) -> str:
    return ", ".join(f"{code} x{n}" for code, n in sorted(Counter(report.codes()).items())) or "no finding"


def run(case: str, root: Path, scale: float) -> str:
    from isaprofile.package.payload import select_payload
    from isaprofile.package.phi import PhiPolicy, check_phi

    policy = PhiPolicy(pseudonyms=frozenset({"sub-01"}))
    series = root / "ct" / "sub-01" / "series"
    series.mkdir(parents=True)
    if case == "blob":
        _clean_ct().save_as(series / "1.dcm")
        with open(series / "blob.bin", "wb") as fh:
            chunk = os.urandom(1 << 20)
            for _ in range(int(200 * scale)):
                fh.write(chunk)
        for i in range(int(1000 * scale)):
            (series / f"notes{i}.txt").write_text("Patient: someone")
            (series / f".~lock.n{i}.txt#").write_text("lock")
        start = time.perf_counter()
        payload, report = select_payload(root, ["ct/sub-01/series"])
        report.merge(check_phi(payload, policy, workers=1).report)
    elif case == "deep-dicom":
        from pydicom.dataset import Dataset
        from pydicom.sequence import Sequence

        ds = _clean_ct()
        inner = Dataset()
        inner.CodeValue = "X"
        for _ in range(int(5000 * scale)):
            outer = Dataset()
            outer.ContentTemplateSequence = Sequence([inner])  # not a Table E.1-1 sequence: walked into
            inner = outer
        ds.ContentTemplateSequence = inner.ContentTemplateSequence
        sys.setrecursionlimit(100_000)  # pydicom writes nested sequences recursively
        ds.save_as(series / "deep.dcm")
        sys.setrecursionlimit(1000)
        start = time.perf_counter()
        report = check_phi({"ct/deep.dcm": series / "deep.dcm"}, policy, workers=1).report
    elif case == "deep-sidecar":
        depth = int(200_000 * scale)
        (series / "x.json").write_text('{"a":' * depth + "1" + "}" * depth)
        start = time.perf_counter()
        report = check_phi({"ct/x.json": series / "x.json"}, policy, workers=1).report
    elif case == "utf16-extension":
        import nibabel
        import numpy as np

        img = nibabel.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
        text = ("Jane Canary " * int(350_000 * scale)).encode("utf-16-le")
        img.header.extensions.append(nibabel.nifti1.Nifti1Extension(6, text))
        nibabel.save(img, series / "x.nii")
        start = time.perf_counter()
        report = check_phi({"ct/x.nii": series / "x.nii"}, policy, workers=1).report
    elif case == "big-nifti":
        import nibabel
        import numpy as np

        from isaprofile.findings.issues import Report
        from isaprofile.harvest.nifti import read_nifti_file

        side = int(1024 * scale ** (1 / 3))
        header = nibabel.Nifti1Header()
        header.set_data_shape((side, side, side))
        header.set_data_dtype(np.uint8)
        with open(series / "big.nii", "wb") as fh:
            fh.write(header.binaryblock + b"\0" * 4)
            fh.truncate(352 + side**3)  # sparse: all zeros
        start = time.perf_counter()
        _, issues = read_nifti_file(str(series / "big.nii"), "big.nii")
        report = Report(issues=issues)
        report.merge(check_phi({"ct/big.nii": series / "big.nii"}, policy, workers=1).report)
    elif case == "links":
        outside = root.parent / "outside"
        outside.mkdir()
        _clean_ct().save_as(outside / "9.dcm")
        for i in range(int(1000 * scale)):
            (series / f"l{i}.dcm").symlink_to(outside / "9.dcm")
        (series / "loop").symlink_to(root, target_is_directory=True)
        start = time.perf_counter()
        payload, report = select_payload(root, ["ct/sub-01/series"])
    elif case == "truncated":
        import pydicom

        from isaprofile.findings.issues import Report, issue
        from isaprofile.harvest.pixels import check_image_integrity

        buf = io.BytesIO()
        _clean_ct().save_as(buf)
        data = buf.getvalue()
        cuts = [133 + (i * (len(data) - 134)) // int(2000 * scale) for i in range(int(2000 * scale))]
        start = time.perf_counter()
        report = Report()
        for cut in cuts:
            fh = io.BytesIO(data[:cut])
            try:
                ds = pydicom.dcmread(fh, stop_before_pixels=True)
            except Exception as exc:  # noqa: BLE001 - counted as the harvest's dicom-unreadable
                report.add(issue("dicom-unreadable", file="x.dcm", reason=type(exc).__name__))
                continue
            syntax = ds.file_meta.get("TransferSyntaxUID")
            found = check_image_integrity(fh, cut, ds, implicit=False, little=True, syntax=str(syntax))
            if found is not None:
                code, params = found
                report.add(issue(code, file="x.dcm", **params))
    else:
        raise SystemExit(f"unknown case {case!r} (one of {', '.join(CASES)})")
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return json.dumps(
        {"case": case, "seconds": round(seconds, 2), "peak_rss_mb": round(rss, 1), "result": _codes(report)}
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    if args.case:
        with tempfile.TemporaryDirectory() as tmp:
            print(run(args.case, Path(tmp) / "ds", args.scale))
        return 0
    for case in CASES:
        cmd = [sys.executable, __file__, "--case", case, "--scale", str(args.scale)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        if done.returncode or not line:
            print(
                f"{case:16} FAILED: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
            )
            continue
        row = json.loads(line)
        print(f"{case:16} {row['seconds']:8.2f} s {row['peak_rss_mb']:8.1f} MB   {row['result']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
