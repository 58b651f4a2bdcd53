"""The pure core of the profile stage: fold learning events into skill profiles,
fire career milestones, publish snapshots.

It imports no faust, Kafka, database or network code: the stream worker, the
offline mode and the tests all call the same functions.

    state, milestones = apply(state, event, catalog, rules)   # per event
    snapshot(state, catalog, rules)                          # per batch
    encode_state(state) / decode_state(data)                 # table values

See docs/profiles-and-milestones.md for the formulas and guarantees.

**Compiled core.** ``make compile`` builds the hot modules (``COMPILED_MODULES``) with
mypyc; they are used only while built from the sources beside them (see
:mod:`schemas.compiled`). ``COMPILED`` tells which ones this process runs.
"""

from schemas.compiled import attach

COMPILED_MODULES = ("state", "profile", "snapshot", "milestones", "plan", "records")
"""The modules of this package ``make compile`` builds."""

COMPILED = attach(__name__, __path__, COMPILED_MODULES)
"""Whether this process runs the mypyc-compiled modules (else the pure-Python ones)."""

from streams.core.milestones import milestone_json, milestone_key, proficiency  # noqa: E402
from streams.core.profile import apply  # noqa: E402
from streams.core.rules import DEFAULT_RULES_PATH, Rules, RulesError  # noqa: E402
from streams.core.snapshot import snapshot, snapshot_json  # noqa: E402
from streams.core.state import (  # noqa: E402
    STATE_FORMAT_VERSION,
    ProfileState,
    decode_state,
    encode_state,
    untrack_events,
    untrack_state,
)

__all__ = [
    "COMPILED",
    "DEFAULT_RULES_PATH",
    "STATE_FORMAT_VERSION",
    "ProfileState",
    "Rules",
    "RulesError",
    "apply",
    "decode_state",
    "encode_state",
    "milestone_json",
    "milestone_key",
    "proficiency",
    "snapshot",
    "snapshot_json",
    "untrack_events",
    "untrack_state",
]
