"""Small helpers shared by the packaging tests (not a test module)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from isaprofile.bagit import build_bag

BAG_INFO = {"Source-Organization": "Example University", "External-Description": "test bag"}
DATE = dt.date(2024, 1, 2)


def make_sources(root: Path, n: int = 4, size: int = 3000) -> dict[str, Path]:
    """``n`` small source files in two series folders; returns package path -> source."""
    payload = {}
    for i in range(n):
        rel = f"scans/series-{i % 2}/img-{i:03d}.dcm"
        src = root / "src" / rel
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_bytes(bytes((i * 7 + k) % 251 for k in range(size + i)))
        payload[rel] = src
    return payload


def build(tmp: Path, dest_name: str = "out", **kw):
    payload = kw.pop("payload", None) or make_sources(tmp)
    return build_bag(
        tmp / dest_name,
        payload,
        kw.pop("metadata", {"i_investigation.txt": b"INVESTIGATION\n"}),
        bag_info=BAG_INFO,
        bagging_date=DATE,
        workers=kw.pop("workers", 1),
        **kw,
    )
