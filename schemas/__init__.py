"""skillstream's contracts and the pure steps of ingest: what a statement becomes.

**Compiled modules.** ``make compile`` builds this package's hot modules
(``COMPILED_MODULES``: normalizing a statement into learning events, the learner key it
derives, building contracts from values made valid already, and ingest's per-record step)
with mypyc, as it does the statement parser, the validator's fast path and the
every-error validator in :mod:`schemas.xapi` and the profile core in :mod:`streams.core`; see
:mod:`schemas.compiled`. ``COMPILED`` tells whether this process runs them.
"""

from schemas.compiled import attach

COMPILED_MODULES = ("normalize", "identity", "trusted", "ingest")
"""The modules of this package ``make compile`` builds (see :mod:`schemas.compiled`)."""
COMPILED = attach(__name__, __path__, COMPILED_MODULES)
"""Whether this process runs the compiled modules (else the pure-Python ones)."""
