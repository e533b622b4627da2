"""ISA-Tab 1.0: a streaming writer, a position-keeping reader and the structural checks."""

from isaprofile.isatab.read import read_isatab
from isaprofile.isatab.write import write_isatab

__all__ = ["read_isatab", "write_isatab"]
