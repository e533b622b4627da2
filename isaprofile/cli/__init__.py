"""The ``isaprofile`` command line: one thin module per command, calling the public API."""
