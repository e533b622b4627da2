"""ISA-Tab throughput: our streaming writer and reader against isatools ``dump`` + ``load`` (the baseline).

Run from the repository root::

    /work/venv/bin/python benchmarks/isatab_bench.py            # streams 10,000 and 1,000,000 rows; isatools at 2,000
    /work/venv/bin/python benchmarks/isatab_bench.py --isatools-rows 10000   # isatools at 10,000 (about 20 minutes)

isatools' ``load`` grows quadratically with the rows (1,000 rows: ~10 s, 2,000: ~43 s on a 2-core machine; 10,000
would take about 18 minutes), so the default isatools comparison size is 2,000 rows; ``--isatools-rows`` changes it.

What is measured
- **stream** (one subprocess per size, so each peak RSS is its own): an MRI assay table of N scan rows
  (about 20 acquisition parameters with units and ontology terms, two comments, an image file, a liver
  segmentation with four parameters on every second row) written by ``write_assay_table`` from a generator
  of scans, with the layout computed by ``assay_layout`` from a 100-scan sample; then read back by streaming
  its rows (``parse.open_table`` + ``TableDoc.rows``). Memory stays bounded: nothing holds all rows.
- **whole ISA-Tab at the isatools size**: a study of N/4 mice × 4 time points with one MRI scan per sample,
  written by ``write_isatab``, then read twice: streamed (every table through ``open_table`` + rows) and by
  ``read_isatab`` without profile (the typed model with positions and the structural checks). The isatools
  baseline in the same run: ``isatab.load`` of that ISA-Tab (which builds the isatools Investigation
  objects) and ``isatab.dump`` of the loaded Investigation into a new folder. Two ratios are printed:
  (isatools load + dump) / (write + stream read) and / (write + read_isatab).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "preclinical-liver"
WEEKS = (0, 4, 8, 12)


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / 2**20


def templates():
    """The example's MRI scan with a segmentation, one of its subjects and samples, and the profile."""
    from isaprofile.dataset import load_dataset

    checked = load_dataset(EXAMPLE)
    inv, prof, report = checked.investigation, checked.profile, checked.report
    if not report.valid:
        raise SystemExit(f"{EXAMPLE} is not valid; cannot build the benchmark data")
    hcc = inv.study("HCC-MRI")
    scan = next(s for s in hcc.scans if s.segmentations)
    return inv, prof, hcc, scan


def scans(n: int, template) -> Iterator:
    """``n`` MRI scans built one at a time: 4 time points per mouse, a segmentation on every second scan."""
    from isaprofile.model import DataFile, Scan, Segmentation, Value

    tr = template.parameters["repetition time"]
    seg_values = template.segmentations[0].values
    comments = template.files[0].comments
    for i in range(n):
        mouse, week = f"M{i // len(WEEKS):07d}", WEEKS[i % len(WEEKS)]
        scan_id = f"{mouse}-w{week}-mri"
        params = dict(template.parameters)
        params["repetition time"] = Value(2000 + i % 997, tr.unit)
        segs = (
            [Segmentation(values=dict(seg_values), path=f"masks/{mouse}/{scan_id}_liver.nii.gz")] if i % 2 == 0 else []
        )
        files = [DataFile(path=f"images/{mouse}/{scan_id}.nii.gz", comments=dict(comments))]
        yield Scan(
            id=scan_id,
            sample=f"{mouse}-w{week}",
            modality="MRI",
            parameters=params,
            comments=dict(template.comments),
            files=files,
            segmentations=segs,
        )


def stream_run(n: int, workdir: Path) -> dict:
    """Write and stream-read an assay table of ``n`` rows; returns times and this process' peak RSS."""
    from itertools import islice

    from isaprofile.findings.issues import Report
    from isaprofile.isatab.parse import open_table
    from isaprofile.isatab.write import assay_layout, write_assay_table

    _inv, prof, _study, template = templates()
    layout = assay_layout(list(islice(scans(n, template), 100)), "MRI", prof)
    path = workdir / f"a_bench_{n}.txt"
    t0 = time.perf_counter()
    rows = write_assay_table(path, scans(n, template), layout)
    t1 = time.perf_counter()
    report = Report()
    table = open_table(path, path.name, report)
    if table is None:
        raise SystemExit(f"{path}: could not be opened")
    read = sum(1 for _ in table.rows(report))
    t2 = time.perf_counter()
    if read != rows or rows != n or report.issues:
        raise SystemExit(f"stream run of {n}: wrote {rows}, read {read}, {len(report.issues)} findings")
    size = path.stat().st_size
    path.unlink()
    return {
        "rows": n,
        "columns": len(layout.header()),
        "write_s": t1 - t0,
        "read_s": t2 - t1,
        "bytes": size,
        "peak_rss_mib": peak_rss_mib(),
    }


def investigation(n: int):
    """A whole investigation: one study of ``n`` // 4 mice × 4 time points, one MRI scan per sample."""
    from isaprofile.model import Investigation, Sample, Study

    inv, prof, hcc, template = templates()
    subj_t, sample_t = hcc.subjects[0], hcc.samples[0]
    study = Study(
        identifier="BENCH",
        title="Benchmark study",
        comments=dict(hcc.comments),
        design_types=list(hcc.design_types),
        factors=list(hcc.factors),
    )
    study.scans = list(scans(n, template))
    seen: set[str] = set()
    for scan in study.scans:
        mouse, week = scan.sample.rsplit("-w", 1)
        if mouse not in seen:
            seen.add(mouse)
            study.subjects.append(dataclasses.replace(subj_t, id=mouse, characteristics=dict(subj_t.characteristics)))
        factors = dict(sample_t.factors)
        factors["time point"] = dataclasses.replace(sample_t.factors["time point"], value=int(week))
        study.samples.append(
            Sample(id=scan.sample, subject=mouse, factors=factors, characteristics=dict(sample_t.characteristics))
        )
    bench = Investigation(
        identifier="bench", title="ISA-Tab benchmark", contacts=list(inv.contacts), studies=[study], profile=prof.id
    )
    return bench, prof


def stream_read_folder(folder: Path) -> int:
    """Stream every table of an ISA-Tab folder (and parse its investigation file); returns the rows read."""
    from isaprofile.findings.issues import Report
    from isaprofile.isatab.parse import open_table, parse_investigation

    report = Report()
    parse_investigation(folder / "i_investigation.txt", "i_investigation.txt", report)
    rows = 0
    for path in sorted(folder.glob("[sa]_*.txt")):
        table = open_table(path, path.name, report)
        rows += sum(1 for _ in table.rows(report)) if table else 0
    if report.issues:
        raise SystemExit(f"{folder}: {report.issues[:3]}")
    return rows


def whole_run(n: int, workdir: Path) -> dict:
    """Our write_isatab, stream read and read_isatab, and isatools load + dump, on the same ``n``-scan ISA-Tab."""
    from isaprofile.isatab.write import write_isatab

    inv, prof = investigation(n)
    ours = workdir / "ours"
    t0 = time.perf_counter()
    write_isatab(inv, ours, prof)
    t1 = time.perf_counter()
    rows = stream_read_folder(ours)
    t2 = time.perf_counter()
    from isaprofile.pipeline import check

    checked = check(ours, None, data_root=ours, skip=("phi",))
    back, _prof, report = checked.investigation, checked.profile, checked.report
    t3 = time.perf_counter()
    if rows != 2 * n or sum(len(s.scans) for s in back.studies) != n:
        raise SystemExit(f"read back {rows} rows and {sum(len(s.scans) for s in back.studies)} scans of {n}")
    # the image files do not exist here; any other finding would mean the benchmark data is wrong
    other = [i for i in report.issues if "file" not in i.code]
    if other:
        raise SystemExit(f"our reader found problems in the benchmark data: {other[:3]}")

    from isatools import isatab

    t4 = time.perf_counter()
    with (ours / "i_investigation.txt").open(encoding="utf-8") as fh:
        iso = isatab.load(fh)
    t5 = time.perf_counter()
    dumped = workdir / "isatools"
    dumped.mkdir()
    isatab.dump(iso, str(dumped))
    t6 = time.perf_counter()
    loaded_samples = sum(len(st.samples) for st in iso.studies)
    if loaded_samples != n:
        raise SystemExit(f"isatools loaded {loaded_samples} samples of {n}")
    return {
        "rows": n,
        "ours_write_s": t1 - t0,
        "ours_stream_read_s": t2 - t1,
        "ours_model_read_s": t3 - t2,
        "isatools_load_s": t5 - t4,
        "isatools_dump_s": t6 - t5,
    }


def child(n: int) -> None:
    """Entry point of the subprocess that runs one stream size and prints its result as JSON."""
    with tempfile.TemporaryDirectory(prefix="isatab-bench-") as tmp:
        print(json.dumps(stream_run(n, Path(tmp))))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print times, ratios and peak RSS."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stream-rows", type=int, nargs="+", default=[10_000, 1_000_000])
    ap.add_argument("--isatools-rows", type=int, default=2_000)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child)
        return 0

    print("# streaming assay table: write_assay_table + open_table/TableDoc.rows (one subprocess per size)")
    for n in args.stream_rows:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(n)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        total = r["write_s"] + r["read_s"]
        print(
            f"{n:>10,} rows × {r['columns']} columns ({r['bytes'] / 2**20:,.0f} MiB): write {r['write_s']:.2f} s, "
            f"read {r['read_s']:.2f} s, {n / total:,.0f} rows/s, peak RSS {r['peak_rss_mib']:.0f} MiB"
        )

    n = args.isatools_rows
    print(f"\n# whole ISA-Tab, {n:,} scan rows: ours (write_isatab + read_isatab) vs isatools (load + dump)")
    workdir = Path(tempfile.mkdtemp(prefix="isatab-bench-"))
    try:
        r = whole_run(n, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    w, sr, mr = r["ours_write_s"], r["ours_stream_read_s"], r["ours_model_read_s"]
    load, dump = r["isatools_load_s"], r["isatools_dump_s"]
    print(f"ours:     write_isatab {w:.2f} s, stream read {sr:.2f} s, read_isatab (typed model + structure) {mr:.2f} s")
    print(f"isatools: load {load:.2f} s, dump {dump:.2f} s")
    print(f"ratio isatools (load + dump) / ours (write + stream read): {(load + dump) / (w + sr):,.0f}x")
    print(f"ratio isatools (load + dump) / ours (write + read_isatab):  {(load + dump) / (w + mr):,.0f}x")
    print(
        f"  write: isatools dump / write_isatab {dump / w:,.1f}x; "
        f"read: isatools load / stream read {load / sr:,.0f}x, "
        f"/ read_isatab {load / mr:,.1f}x"
    )
    print(f"peak RSS of this process (ours + isatools at {n:,} rows): {peak_rss_mib():.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
