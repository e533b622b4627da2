"""Check that .ci/run runs exactly the README's quick-start commands, so it proves what a newcomer copies.

Usage: ``python3 .ci/quickstart.py README.md --expect CMD1 CMD2`` fails unless the fenced ``bash`` blocks of
the README's "Quick start" section are, in order, exactly CMD1 and CMD2 (the commands .ci/run runs);
``python3 .ci/quickstart.py README.md OUTDIR`` writes them to OUTDIR/quickstart-N.sh instead.
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
    readme = Path(sys.argv[1])
    if sys.argv[2] == "--expect":
        found = [b.strip() for b in blocks(readme.read_text(encoding="utf-8"))]
        if found != sys.argv[3:]:
            raise SystemExit(f"the README's quick-start commands {found} are not the ones .ci/run runs {sys.argv[3:]}")
        return
    outdir = Path(sys.argv[2])
    outdir.mkdir(parents=True, exist_ok=True)
    for n, text in enumerate(blocks(readme.read_text(encoding="utf-8")), 1):
        script = outdir / f"quickstart-{n}.sh"
        script.write_text(text, encoding="utf-8")
        print(script)


if __name__ == "__main__":
    main()
