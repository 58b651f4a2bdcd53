"""Strict xAPI statement validation: the front gate of skillstream.

LMS platforms send xAPI 1.0.3 and 2.0 statements; skillstream accepts exactly
what a conformant LRS accepts and dead-letters the rest with *every* reason, so
the LMS developer can fix all of them in one round. The package is pure (no
Kafka, no database) and is the hot path of ingest.

Contract, imported by the rest of skillstream:

* :class:`XapiVersion` - the rule set applied (``V1_0_3`` or ``V2_0``).
* :class:`StatementProblem` - ``path`` (JSON path), ``message``, ``code``.
* :func:`resolve_version` - statement ``version``, else the
  ``X-Experience-API-Version`` header, else the default.
* :func:`validate_statement` - every problem of a parsed statement; ``[]``
  means valid; never raises.
* :func:`parse_statement` - bytes to ``(statement, rule set, problems)``.
* :data:`MAX_NESTING` - how deep a statement may nest (objects and arrays).

Valid statements of the common shapes are accepted by a fast path
(:mod:`schemas.xapi.fast`); anything it does not accept goes to the every-error
validator, which decides. ``make compile`` builds the fast path, the format checks it
calls (:mod:`schemas.xapi.formats`), the parser (:mod:`schemas.xapi.parse`) and the
every-error validator (:mod:`schemas.xapi.validator`: an invalid statement's every problem
found in 10.7 µs instead of 12.9, the simulator's invalid statements on this project's
build box).
"""

from schemas.compiled import attach

COMPILED_MODULES = ("fast", "formats", "parse", "validator")
"""The modules of this package ``make compile`` builds (see :mod:`schemas.compiled`)."""
COMPILED = attach(__name__, __path__, COMPILED_MODULES)
"""Whether this process runs the compiled fast path (else the pure-Python one)."""

from schemas.xapi.parse import parse_statement, resolve_version  # noqa: E402
from schemas.xapi.problems import MAX_NESTING, StatementProblem, XapiVersion  # noqa: E402
from schemas.xapi.validator import validate_statement  # noqa: E402

__all__ = [
    "MAX_NESTING",
    "StatementProblem",
    "XapiVersion",
    "parse_statement",
    "resolve_version",
    "validate_statement",
]
