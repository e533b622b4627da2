"""Running roc-validator (the third-party RO-Crate validator) as a test oracle, offline and in reasonable time.

Most of roc-validator's time goes into pyshacl's SPARQL-based constraints, which hand rdflib the same
query text once per focus node; rdflib parses and translates that text again on every call (about 40 ms
each, thousands of times per crate). :func:`prepared_queries` keeps the translated query per text, which
is exactly rdflib's *prepared query* (``prepareQuery``), a form rdflib documents as reusable with
different ``initBindings``. Nothing of the validation itself changes: the same shapes run over the same
graph, and the oracle's verdict is what the tests assert.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

_PREPARED: dict[tuple[str, str | None, tuple[tuple[str, str], ...]], Any] = {}


@contextlib.contextmanager
def prepared_queries() -> Iterator[None]:
    """While active, rdflib's SPARQL processor reuses the translated form of each query text."""
    from rdflib.plugins.sparql import processor
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import parseQuery

    original = processor.SPARQLProcessor.query

    def query(
        self: Any,
        strOrQuery: Any,  # noqa: N803 (rdflib's parameter names)
        initBindings: Mapping[str, Any] | None = None,  # noqa: N803
        initNs: Mapping[str, Any] | None = None,  # noqa: N803
        base: str | None = None,
        DEBUG: bool = False,  # noqa: N803
    ) -> Any:
        if isinstance(strOrQuery, str):
            key = (strOrQuery, base, tuple(sorted((str(k), str(v)) for k, v in (initNs or {}).items())))
            prepared = _PREPARED.get(key)
            if prepared is None:
                prepared = _PREPARED[key] = translateQuery(parseQuery(strOrQuery), base, initNs)
            strOrQuery = prepared
        return original(self, strOrQuery, initBindings, initNs, base, DEBUG)

    processor.SPARQLProcessor.query = query  # type: ignore[method-assign]
    try:
        yield
    finally:
        processor.SPARQLProcessor.query = original  # type: ignore[method-assign]


def roc_validate(crate: Path, profile_id: str, cache: Path) -> Any:
    """roc-validator's result for the crate folder ``crate`` against ``profile_id``, offline."""
    from rocrate_validator import services
    from rocrate_validator.models import ValidationSettings
    from test_linked_rocrate import _seed_validator_cache

    if not cache.exists():
        _seed_validator_cache(cache)
    settings = ValidationSettings(
        rocrate_uri=str(crate),
        profile_identifier=profile_id,
        requirement_severity="REQUIRED",
        offline=True,
        cache_path=cache,
        # isa-ro-crate extends RO-Crate 1.1, whose descriptor rule demands conformsTo 1.1; the crates are
        # RO-Crate 1.2 and are checked against the full 1.2 profile in the other case.
        disable_inherited_profiles_issue_reporting=profile_id == "isa-ro-crate",
    )
    with prepared_queries():
        return services.validate(settings)


def required_issues(result: Any) -> list[tuple[str, str]]:
    return [(i.check.name, i.message) for i in result.get_issues() if i.severity.name == "REQUIRED"]
