"""Ingest's pure step: the bytes of one input record to learning events, a dead letter
or a counted skip (``Ingest.record``), for the stream's ingest stage and ``skillstream
offline`` alike. Compiled with mypyc (``schemas.COMPILED_MODULES``): it runs once per
record, around the native ingest. ``streams.pipeline`` re-exports it beside the profile
step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.catalog import Catalog
from schemas.compiled import mypyc_attr
from schemas.events import LearningEvent
from schemas.normalize import Ignored, NativeIngest, credits, normalize
from schemas.vocabulary import Vocabulary
from schemas.xapi import StatementProblem, parse_statement

Normalize = Callable[
    [Mapping[str, Any], Catalog, Vocabulary, bytes, "datetime | int | None"],
    "tuple[LearningEvent, ...] | Ignored",
]
"""The Python path's normalisation: ``schemas.normalize.normalize``."""


@dataclass(slots=True)
class IngestCounts:
    """What ingest did with its input, for progress lines, metrics and summaries."""

    records: int = 0
    valid: int = 0
    dead_lettered: int = 0
    events: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    credited: int = 0
    """Statements whose events name at least one skill (voiding statements aside)."""
    uncredited: int = 0
    """Statements normalised into events that name no skill: the catalog's gaps."""

    def add(self, other: IngestCounts) -> None:
        self.records += other.records
        self.valid += other.valid
        self.dead_lettered += other.dead_lettered
        self.events += other.events
        self.credited += other.credited
        self.uncredited += other.uncredited
        for code, n in other.ignored.items():
            self.ignored[code] = self.ignored.get(code, 0) + n


@mypyc_attr(native_class=False)  # a plain class compiled: pickled and copied as before
@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that failed validation: every problem, for the dead-letter topic."""

    problems: tuple[StatementProblem, ...]


class Ingest:
    """Validate and normalize input records against the current catalog and vocabulary."""

    def __init__(
        self,
        catalog: Catalog,
        vocabulary: Vocabulary,
        secret: bytes,
        default_version: str = "2.0.0",
        max_bytes: int = 1_000_000,
        normalize_statement: Normalize = normalize,
    ) -> None:
        self.catalog = catalog
        self.vocabulary = vocabulary
        self.secret = secret
        self.default_version = default_version
        self.max_bytes = max_bytes
        self.normalize_statement = normalize_statement
        """What normalises a statement the native ingest leaves to Python (a test may give
        one that fails, as a bug of skillstream's would)."""
        self.counts = IngestCounts()
        self.fast: NativeIngest | None = (
            NativeIngest(catalog, vocabulary, secret) if NativeIngest.available(secret) else None
        )
        """Validation and normalisation in one native read, for the records it takes."""

    def record(
        self,
        raw: Any,
        header_version: Any = None,
        fallback_time: Any = None,
    ) -> tuple[LearningEvent, ...] | Rejected | Ignored:
        """One input record's fate. Counts are kept in ``self.counts``.

        ``raw`` is the record's bytes (a bytes-like value or text is read as its bytes),
        ``header_version`` its xAPI version header (a ``str`` or None), ``fallback_time``
        a ``datetime`` or epoch milliseconds (or None).
        Never raises: whatever goes wrong with one record — a bug of skillstream's
        included, or arguments of another type (typed ``Any`` so that the compiled method
        does not refuse them on entry, and checked here so that it answers as the pure
        one does) — makes that record a dead letter with the reason (code ``internal``),
        so no single record can stop a stage.
        """
        counts = self.counts
        counts.records += 1
        try:
            if type(raw) is not bytes:
                raw = record_bytes(raw)
            if header_version is not None and not isinstance(header_version, str):
                raise TypeError(f"an xAPI version header is text, not {type(header_version)}")
            if fallback_time is not None and not isinstance(fallback_time, (datetime, int)):
                raise TypeError(f"a record time is a datetime or an int, not {type(fallback_time)}")
            outcome = None
            fast = self.fast
            if fast is not None and len(raw) <= self.max_bytes:
                try:
                    outcome = fast.take(raw, header_version, self.default_version, fallback_time)
                except Exception:  # noqa: BLE001 - the Python path decides, and reports
                    outcome = None
            if outcome is None:
                statement, _, problems = parse_statement(
                    raw, header_version, self.default_version, self.max_bytes
                )
                if problems or statement is None:
                    counts.dead_lettered += 1
                    return Rejected(tuple(problems))
                outcome = self.normalize_statement(
                    statement, self.catalog, self.vocabulary, self.secret, fallback_time
                )
        except Exception as exc:  # noqa: BLE001 - any failure of one record is that record's
            counts.dead_lettered += 1
            return Rejected((internal_problem(exc),))
        counts.valid += 1
        if isinstance(outcome, Ignored):
            counts.ignored[outcome.code] = counts.ignored.get(outcome.code, 0) + 1
            return outcome
        counts.events += len(outcome)
        credited = credits(outcome)
        if credited is not None:
            if credited:
                counts.credited += 1
            else:
                counts.uncredited += 1
        return outcome


def record_bytes(raw: Any) -> bytes:
    """A record's bytes: a bytes-like value as its bytes, text as UTF-8; anything else is
    no record (``TypeError``)."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return bytes(raw)
    if isinstance(raw, str):
        return raw.encode()
    raise TypeError(f"a record is bytes, not {type(raw)}")


def internal_problem(exc: BaseException) -> StatementProblem:
    """What a dead letter says when skillstream itself failed on a record."""
    detail = str(exc).splitlines()[0][:300] if str(exc) else ""
    return StatementProblem(
        "$",
        f"skillstream could not process this record ({type(exc).__name__}"
        f"{': ' + detail if detail else ''}); it is kept here so that nothing is lost — "
        "please report it, and reprocess it once skillstream is fixed",
        "internal",
    )
