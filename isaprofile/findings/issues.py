"""One finding type for every layer: :class:`Issue`, collected in a :class:`Report`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from isaprofile.findings.codes import Severity, lookup

__all__ = ["Issue", "Report", "Severity", "issue"]


@dataclass(frozen=True, slots=True)
class Issue:
    """A located finding. ``code`` is a stable kebab-case name from the catalogue.

    ``line`` and ``column`` are 1-based. ``path`` names the place inside the file in the
    file's own terms: a table header, a DICOM tag, a JSON path, a sheet and column.
    ``value`` is only ever set for values that cannot identify a person.
    """

    code: str
    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str | None = None
    value: str | None = None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # every field is a str, int or None (asdict's deep copy of them costs 10x, for the same dict)
        d = {name: getattr(self, name) for name in _ISSUE_FIELDS}
        d["severity"] = self.severity.value
        return d

    def where(self) -> str:
        """A human location such as ``s_study.txt:4:7 (Characteristics[sex])``."""
        parts = [self.file or ""]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        loc = ":".join(p for p in parts if p)
        if self.path:
            loc = f"{loc} ({self.path})" if loc else self.path
        return loc


_ISSUE_FIELDS = tuple(f.name for f in fields(Issue))


def issue(
    code: str,
    *,
    file: str | None = None,
    line: int | None = None,
    column: int | None = None,
    path: str | None = None,
    value: Any = None,
    hint: str | None = None,
    severity: Severity | str | None = None,
    **params: Any,
) -> Issue:
    """Make an :class:`Issue` from the catalogue entry ``code``, filling its message template.

    Template placeholders are filled from ``params`` and the location keywords, so a template may
    say ``{path}`` or ``{expected}``. Unknown codes are a programming error and raise ``KeyError``.
    """
    entry = lookup(code)
    fill = {"file": file, "line": line, "column": column, "path": path, "value": value, **params}
    try:
        message = entry.template.format(**fill)
    except (KeyError, IndexError) as exc:  # a template/caller mismatch is a bug in isaprofile
        raise KeyError(f"message template of {code!r} needs {exc}") from exc
    sev = Severity(severity) if severity is not None else entry.severity
    return Issue(
        code=code,
        severity=sev,
        message=message,
        file=None if file is None else str(file),
        line=line,
        column=column,
        path=path,
        value=None if value is None else str(value),
        hint=hint if hint is not None else entry.hint,
    )


@dataclass
class Report:
    """The result of a validation: the findings and some counts. ``valid`` means no errors."""

    issues: list[Issue] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not any(i.severity is Severity.ERROR for i in self.issues)

    def is_valid(self, strict: bool = False) -> bool:
        """Valid, and under ``strict`` also free of warnings."""
        bad = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
        return not any(i.severity in bad for i in self.issues)

    def add(self, item: Issue) -> None:
        self.issues.append(item)

    def extend(self, items: Iterable[Issue]) -> None:
        self.issues.extend(items)

    def merge(self, other: Report) -> Report:
        """Take over another report's findings and add up its numeric stats."""
        self.issues.extend(other.issues)
        for key, val in other.stats.items():
            if isinstance(val, int | float) and isinstance(self.stats.get(key), int | float):
                self.stats[key] += val
            else:
                self.stats.setdefault(key, val)
        return self

    def __iter__(self) -> Iterator[Issue]:
        return iter(self.issues)

    def __len__(self) -> int:
        return len(self.issues)

    def codes(self) -> list[str]:
        return [i.code for i in self.issues]

    def flatten(self, fields: Iterable[str] = ("code", "file", "line", "column", "path")) -> list[tuple]:
        """Findings as tuples of the named attributes, for exact assertions in tests."""
        names = tuple(fields)
        return [tuple(getattr(i, n) for n in names) for i in self.issues]

    def counts(self) -> dict[str, int]:
        c = Counter(i.severity.value for i in self.issues)
        return {s.value: c.get(s.value, 0) for s in Severity}

    def sorted(self) -> Report:
        """A copy with findings ordered by file, line, column and code (stable output)."""
        key = lambda i: (i.file or "", i.line or 0, i.column or 0, i.code, i.path or "")  # noqa: E731
        return Report(sorted(self.issues, key=key), dict(self.stats))

    def to_dict(self, strict: bool = False) -> dict[str, Any]:
        return {
            "valid": self.is_valid(strict),
            "issues": [i.to_dict() for i in self.issues],
            "stats": {**self.stats, **self.counts()},
        }
