"""Print the README's quick-start commands, so .ci/run runs exactly what a newcomer copies.

Usage: ``python3 .ci/quickstart.py README.md OUTDIR`` writes OUTDIR/quickstart-1.sh, -2.sh, … one per
fenced ``bash`` block of the "Quick start" section (in order) and prints their paths. It fails when the
section or its blocks are missing, so the README cannot silently lose the commands CI runs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def blocks(readme: str) -> list[str]:
    section = re.search(r"^## Quick start\n(.*?)(?=^## |\Z)", readme, flags=re.M | re.S)
    if section is None:
        raise SystemExit("README.md has no '## Quick start' section")
    found = re.findall(r"^```bash\n(.*?)^```", section.group(1), flags=re.M | re.S)
    if len(found) != 2:
        raise SystemExit(f"README.md quick start: expected 2 bash blocks, found {len(found)}")
    return found


def main() -> None:
    readme, outdir = Path(sys.argv[1]), Path(sys.argv[2])
    outdir.mkdir(parents=True, exist_ok=True)
    for n, text in enumerate(blocks(readme.read_text(encoding="utf-8")), 1):
        script = outdir / f"quickstart-{n}.sh"
        script.write_text(text, encoding="utf-8")
        print(script)


if __name__ == "__main__":
    main()
