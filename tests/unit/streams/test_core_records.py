"""The offline run's first pass (``streams.core.records``)."""

from __future__ import annotations

from typing import Any

from schemas.ingest import Ingest
from skillstream.config import SAMPLE_CATALOG, load_catalog, load_rules, load_vocabulary
from streams.core import apply, encode_state
from streams.core.records import first_pass
from tools.simulate import Simulation

SECRET = b"a secret for the first pass's tests"


def _pass(records: list[bytes], apply_event: Any) -> tuple[Any, ...]:
    catalog, vocabulary = load_catalog(SAMPLE_CATALOG), load_vocabulary(None)
    rules = load_rules(None)
    ingest = Ingest(catalog, vocabulary, SECRET)
    done = first_pass(records, ingest, catalog, rules, apply_event)
    states = {learner: encode_state(state) for learner, state in done.states.items()}
    rejected = [(offset, repr(why)) for offset, _, why in done.rejected]
    return states, [m.model_dump_json() for m in done.milestones], rejected, ingest.counts.events


def test_the_cores_apply_and_a_stand_in_for_it_give_the_same_pass() -> None:
    """``first_pass`` calls the core's own ``apply`` directly, and anything else passed in
    its place through Python: the two ways apply the same events to the same states."""
    records = list(Simulation(40, 30, 3))
    calls = []

    def stand_in(*args: Any) -> Any:
        calls.append(args[1])
        return apply(*args)

    direct = _pass(records, apply)
    through = _pass(records, stand_in)
    assert len(calls) == through[3] > 0  # the stand-in was called once per event
    assert direct == through
    assert direct[1]  # milestones fired: the comparison compares something
