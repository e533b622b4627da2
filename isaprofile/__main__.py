"""``python -m isaprofile``: the same command line as the ``isaprofile`` script."""

from isaprofile.cli.main import console

if __name__ == "__main__":
    console(prog_name="python -m isaprofile")
