"""``python -m isaprofile``: the same command line as the ``isaprofile`` script."""

import sys

from isaprofile.cli.main import main

if __name__ == "__main__":
    sys.exit(main(prog_name="python -m isaprofile"))
