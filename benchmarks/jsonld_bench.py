"""Benchmark: RO-Crate JSON-LD generation and SHACL validation for a large imaging dataset.

Baseline, measured in the same run: ro-crate-py (``rocrate``) building a crate with the same
entities (every entity of our graph added through its API) and generating its JSON.

    /work/venv/bin/python benchmarks/jsonld_bench.py --scans 10000 --shacl-scans 300 1000

Prints wall time and peak traced memory (tracemalloc) per step and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from isaprofile.linked.context import dumps
from isaprofile.linked.jsonld import build_ro_crate
from isaprofile.linked.shacl import validate_crate
from isaprofile.model import DataFile, Investigation, Person, Sample, Scan, Segmentation, Study, Subject, Term, Value
from isaprofile.profile import Profile, load_profile

MS = Term("millisecond", "UO", "UO:0000028")


def make_investigation(n_scans: int, profile: Profile) -> tuple[Investigation, dict[str, tuple[int, str]]]:
    """``n_scans`` MRI/CT scans: two scans per sample, three samples per mouse; one mask per MRI scan."""
    org = profile.field("organism").find_term("mouse")
    health = profile.field("health_status").find_term("healthy")
    brand = profile.field("brand").find_term("Bruker")
    liver = profile.field("organ").find_term("liver")
    subjects, samples, scans, files = [], [], [], {}
    for n in range(n_scans):
        mouse, week = divmod(n // 2, 3)
        sid = f"M{mouse:05d}_w{week}"
        if n % 6 == 0:
            subjects.append(
                Subject(
                    id=f"M{mouse:05d}",
                    characteristics={
                        "organism": Value(org),
                        "health_status": Value(health),
                        "age": Value(60, Term("day", "UO", "UO:0000033")),
                    },
                )
            )
        if n % 2 == 0:
            samples.append(
                Sample(id=sid, subject=f"M{mouse:05d}", factors={"study_week": Value(week * 4, Term("week"))})
            )
        mod = "MRI" if n % 2 == 0 else "CT"
        path = f"images/{mod}/{sid}.nii.gz"
        files[path] = (1_000_000 + n, f"{n:064x}")
        params = {"brand": Value(brand), "echo_time": Value(30.0, MS), "repetition_time": Value(2000.0, MS)}
        segs = []
        if mod == "MRI":
            mask = f"masks/{sid}_liver.nii.gz"
            files[mask] = (50_000 + n, f"{n + 1:064x}")
            segs.append(Segmentation(values={"organ": Value(liver)}, path=mask))
        scans.append(
            Scan(
                id=f"{sid}_{mod}",
                sample=sid,
                modality=mod,
                parameters=params,
                files=[DataFile(path=path)],
                segmentations=segs,
            )
        )
    study = Study(
        identifier="BENCH", title="benchmark", description="synthetic", subjects=subjects, samples=samples, scans=scans
    )
    inv = Investigation(
        identifier="BENCH",
        title="Benchmark",
        description="Synthetic dataset",
        public_release_date="2026-01-01",
        contacts=[Person(last_name="Doe", first_name="Jane")],
        licences=["CC-BY-4.0"],
        studies=[study],
        comments={"publisher": "Example"},
    )
    return inv, files


def measure(fn: Callable[[], Any], memory: bool = True) -> tuple[Any, float, float]:
    """Run ``fn`` twice: once timed (wall seconds), once under tracemalloc (peak MiB, which slows it a lot);
    without ``memory`` only the timed run, and the peak is the process's peak RSS instead."""
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    if not memory:
        return out, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del out
    gc.collect()
    tracemalloc.start()
    out = fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, dt, peak


def rocrate_py(doc: dict[str, Any]) -> bytes:
    """Build the same entities with ro-crate-py and generate its metadata JSON."""
    import json

    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

    crate = ROCrate()
    for ent in doc["@graph"]:
        ident = ent["@id"]
        props = {k: v for k, v in ent.items() if k != "@id"}
        if ident == "./":
            crate.root_dataset.properties().update(props)
        elif ident == "ro-crate-metadata.json":
            continue
        elif props.get("@type") == "File":
            crate.add_file(dest_path=ident, properties=props)
        elif props.get("@type") == "Dataset" and not ident.startswith("#"):
            crate.add_dataset(dest_path=ident, properties=props)
        else:
            crate.add(ContextEntity(crate, ident, properties=props))
    return json.dumps(crate.metadata.generate(), indent=2, sort_keys=True).encode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scans", type=int, default=10_000)
    ap.add_argument("--shacl-scans", type=int, nargs="*", default=[300, 1000])
    ap.add_argument(
        "--shacl-rss",
        action="store_true",
        help="time SHACL once and report peak RSS instead of tracing memory (tracing 10,000 scans takes hours)",
    )
    args = ap.parse_args()
    profile = load_profile("preclinical-imaging@1.0")
    inv, files = make_investigation(args.scans, profile)
    (data, report), t_ours, m_ours = measure(
        lambda: (lambda d: (dumps(d[0]), d[1]))(build_ro_crate(inv, profile, files=files))
    )
    import json

    doc = json.loads(data)
    base, t_base, m_base = measure(lambda: rocrate_py(doc))
    print(f"scans={args.scans} entities={len(doc['@graph'])} bytes={len(data)} findings={len(report)}")
    print(f"isaprofile build_ro_crate+dumps : {t_ours:8.2f} s  peak {m_ours:8.1f} MiB")
    print(f"ro-crate-py same entities       : {t_base:8.2f} s  peak {m_base:8.1f} MiB  ({len(base)} bytes)")
    print(f"ratio isaprofile / ro-crate-py  : time {t_ours / t_base:.2f}x  memory {m_ours / m_base:.2f}x")
    for n in args.shacl_scans:
        small, small_files = make_investigation(n, profile)
        sdoc, _ = build_ro_crate(small, profile, files=small_files)
        rep, t_sh, m_sh = measure(lambda sdoc=sdoc: validate_crate(sdoc, profile), memory=not args.shacl_rss)
        print(
            f"SHACL scans={n:6d} entities={len(sdoc['@graph']):7d}: {t_sh:8.2f} s  peak {m_sh:8.1f} MiB"
            f"  findings={len(rep)}  ({t_sh / n * 1000:.1f} ms/scan)"
        )


if __name__ == "__main__":
    main()
