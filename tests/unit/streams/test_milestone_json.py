"""The milestone record the profile stage produces (``milestone_json``) is pydantic's JSON of
the milestone, byte for byte: for the simulator's milestones, for milestones of any field
values, built by validation or by ``trusted`` as ``fire`` builds them, and, through
pydantic itself, for the milestones orjson would write otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.milestones import MilestoneData, MilestoneEvent, MilestoneKind
from schemas.trusted import trusted
from streams.core import milestone_json

T0 = datetime(2026, 1, 5, tzinfo=UTC)

texts = st.text(max_size=12)
summary_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),  # past 64 bits orjson refuses, and pydantic writes it
    st.sampled_from([(1 << 64) - 1, 1 << 64, -(1 << 63), -(1 << 63) - 1]),
    texts,
)


@st.composite
def data_fields(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "kind": draw(st.sampled_from(list(MilestoneKind))),
        "rule": draw(texts),
        "learner": draw(texts),
        "level": draw(texts),
        "skill": draw(st.none() | texts),
        "skills": tuple(draw(st.lists(texts, max_size=3))),
        "title": draw(texts),
        "evidence": tuple(draw(st.lists(texts, max_size=4))),
        "achieved_at": T0
        + draw(
            st.sampled_from([timedelta(0), timedelta(seconds=1), timedelta(microseconds=1)])
            | st.timedeltas(min_value=timedelta(days=-9000), max_value=timedelta(days=9000))
        ),
        "summary": draw(st.dictionaries(texts, summary_values, max_size=4)),
    }


FIELD_ORDER = [name for name in MilestoneData.model_fields if name != "version"]


def trusted_milestone(fields: dict[str, Any]) -> MilestoneEvent:
    """As ``fire`` builds one: both models by ``trusted``, from their fields in order."""
    data = trusted(MilestoneData, {"version": 1, **fields})
    envelope = MilestoneEvent.of(MilestoneData(**fields))
    values = {name: getattr(envelope, name) for name in MilestoneEvent.model_fields}
    values["data"] = data
    return trusted(MilestoneEvent, values)


@settings(max_examples=300, deadline=None)
@given(data_fields())
def test_any_milestone_is_written_as_pydantic_writes_it(fields: dict[str, Any]) -> None:
    validated = MilestoneEvent.of(MilestoneData(**fields))
    built = trusted_milestone(fields)
    expected = validated.model_dump_json().encode()
    assert built.model_dump_json().encode() == expected
    assert milestone_json(validated) == expected
    assert milestone_json(built) == expected


def test_the_simulators_milestones_are_written_as_pydantic_writes_them() -> None:
    from skillstream.config import SAMPLE_CATALOG, load_catalog, load_rules, load_vocabulary
    from streams.offline import run_offline
    from tools.simulate import Simulation

    result = run_offline(
        list(Simulation(120, 90, seed=11)),
        catalog=load_catalog(SAMPLE_CATALOG),
        vocabulary=load_vocabulary(None),
        rules=load_rules(None),
        secret=b"test",
    )
    kinds = {m.data.kind for m in result.milestones}
    assert len(result.milestones) > 200
    assert len(kinds) >= 5, kinds
    for milestone in result.milestones:
        assert list(milestone.__dict__) == list(MilestoneEvent.model_fields)
        assert list(milestone.data.__dict__) == list(MilestoneData.model_fields)
        assert milestone_json(milestone) == milestone.model_dump_json().encode()


def sample() -> dict[str, Any]:
    return {
        "kind": MilestoneKind.NETWORKER,
        "rule": "networker",
        "learner": "lrn_a",
        "level": "connector",
        "title": "Attended 5 events in 90 days",
        "evidence": ("s1", "s2"),
        "achieved_at": T0,
        "summary": {"events_in_window": 5},
    }


def test_extra_fields_are_written_by_pydantic() -> None:
    with_extra = MilestoneEvent.of(MilestoneData(**sample(), note="kept"))
    assert with_extra.data.__pydantic_extra__ == {"note": "kept"}
    written = milestone_json(with_extra)
    assert written == with_extra.model_dump_json().encode()
    assert b'"note":"kept"' in written


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
def test_a_value_orjson_does_not_write_is_written_by_pydantic() -> None:
    fields = {"skill": None, "skills": (), **sample()}
    fields["summary"] = {"share": Decimal("0.25")}  # trusted: no validation refuses it
    data = trusted(MilestoneData, {"version": 1, **{name: fields[name] for name in FIELD_ORDER}})
    assert list(data.__dict__) == list(MilestoneData.model_fields)
    values = dict(MilestoneEvent.of(MilestoneData(**sample())).__dict__)
    values["data"] = data
    odd = trusted(MilestoneEvent, values)
    written = milestone_json(odd)
    assert written == odd.model_dump_json().encode()
    assert b'"share":"0.25"' in written


def test_a_dict_with_a_key_too_few_is_written_by_pydantic() -> None:
    milestone = MilestoneEvent.of(MilestoneData(**sample()))
    values = dict(milestone.__dict__)
    del values["dataschema"]  # pydantic leaves out a field the dict does not hold
    short = trusted(MilestoneEvent, values)
    written = milestone_json(short)
    assert written == short.model_dump_json().encode()
    assert b"dataschema" not in written


def test_a_dict_with_a_key_too_many_is_written_by_pydantic() -> None:
    milestone = MilestoneEvent.of(MilestoneData(**sample()))
    values = {**milestone.__dict__, "stray": 1}  # not a field: pydantic does not write it
    odd = trusted(MilestoneEvent, values)
    assert "stray" in odd.__dict__
    assert not odd.__pydantic_extra__
    written = milestone_json(odd)
    assert written == milestone.model_dump_json().encode()
    assert b"stray" not in written
