"""isaprofile: FAIR imaging research data — profiles, ISA-Tab, validation, linked data and deposit packages.

The public API is small; heavy modules are imported only when a name is first used::

    import isaprofile
    checked = isaprofile.check("examples/preclinical-liver")   # model + one report, every layer
    print(checked.report.valid, checked.report.stats["layers"])
    isaprofile.write_isatab(checked.investigation, "out/isatab", checked.profile)
    result = isaprofile.package_dataset("examples/preclinical-liver", "out/package")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Issue": "isaprofile.findings.issues",
    "Report": "isaprofile.findings.issues",
    "Severity": "isaprofile.findings.issues",
    "Profile": "isaprofile.profile.model",
    "load_profile": "isaprofile.profile.model",
    "list_profiles": "isaprofile.profile.model",
    "Investigation": "isaprofile.model",
    "Study": "isaprofile.model",
    "Subject": "isaprofile.model",
    "Sample": "isaprofile.model",
    "Scan": "isaprofile.model",
    "DataFile": "isaprofile.model",
    "Segmentation": "isaprofile.model",
    "Term": "isaprofile.model",
    "Value": "isaprofile.model",
    "check": "isaprofile.pipeline",
    "CheckedDataset": "isaprofile.pipeline",
    "IsaprofileError": "isaprofile.errors",
    "DatasetError": "isaprofile.errors",
    "ProfileError": "isaprofile.profile.model",
    "load_dataset": "isaprofile.dataset",
    "validate": "isaprofile.dataset",
    "read_isatab": "isaprofile.isatab.read",
    "write_isatab": "isaprofile.isatab.write",
    "write_template": "isaprofile.profile.template",
    "harvest_files": "isaprofile.harvest.images",
    "build_ro_crate": "isaprofile.linked.jsonld",
    "package_dataset": "isaprofile.package.deposit",
    "verify_package": "isaprofile.package.metadata_checks",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'isaprofile' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
