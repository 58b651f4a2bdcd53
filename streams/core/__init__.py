"""The pure core of the profile stage: fold learning events into skill profiles,
fire career milestones, publish snapshots.

It imports no faust, Kafka, database or network code: the stream worker, the
offline mode and the tests all call the same functions.

    state, milestones = apply(state, event, catalog, rules)   # per event
    snapshot(state, catalog, rules)                          # per batch
    encode_state(state) / decode_state(data)                 # table values

See docs/profiles-and-milestones.md for the formulas and guarantees.
"""

from streams.core.milestones import milestone_key, proficiency
from streams.core.profile import apply
from streams.core.rules import DEFAULT_RULES_PATH, Rules, RulesError
from streams.core.snapshot import snapshot
from streams.core.state import STATE_FORMAT_VERSION, ProfileState, decode_state, encode_state

__all__ = [
    "DEFAULT_RULES_PATH",
    "STATE_FORMAT_VERSION",
    "ProfileState",
    "Rules",
    "RulesError",
    "apply",
    "decode_state",
    "encode_state",
    "milestone_key",
    "proficiency",
    "snapshot",
]
