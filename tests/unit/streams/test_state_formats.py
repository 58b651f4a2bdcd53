"""The state codec: states written in older formats read as today's, and malformed bytes of
any format are refused as a profile state of the wrong shape.

``data/state-format-3.json`` holds states that the format-3 encoder wrote from the events of
``legacy_states.CASES`` (see that module); today's ``decode_state`` must read each into the
state the core builds from those events now, and write it back in the current format.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from core_helpers import event, run, watched
from legacy_states import CASES, exposures

from streams.core import STATE_FORMAT_VERSION, ProfileState, Rules, decode_state, encode_state
from streams.core.state import _HEADER, EVIDENCE, FIELDS, NO_SCORE, SKILL_SHIFT

FORMAT_3: dict[str, str] = json.loads(
    (Path(__file__).parent / "data" / "state-format-3.json").read_text(encoding="utf-8")
)


def old(name: str) -> bytes:
    return bytes.fromhex(FORMAT_3[name])


@pytest.mark.parametrize("name", sorted(FORMAT_3))
def test_an_older_format_reads_as_the_state_the_core_builds_now(name: str) -> None:
    data = old(name)
    assert data[0] == (2 if "format 2" in name else 3)
    read = decode_state(data)
    now = CASES[name.split(",", maxsplit=1)[0]]()
    assert encode_state(read) == encode_state(now)


def test_a_format_2_state_has_no_exposures_and_a_format_3_one_must() -> None:
    data = old("plain, format 2")
    read = decode_state(data)
    assert read.exposures.expo == {}
    assert read.exposures.expo_folded == set()
    with pytest.raises(ValueError, match="wrong shape"):
        decode_state(bytes([3]) + data[1:])  # format 3 with format 2's document


# --- format 3: malformed exposures -------------------------------------------------------


def _rewritten(data: bytes, change: Callable[[list[Any], list[int]], None]) -> bytes:
    """Format-3 ``data`` with its JSON document and trailing exposure keys changed."""
    _, flags, size = _HEADER.unpack_from(data)
    doc = orjson.loads(data[_HEADER.size : _HEADER.size + size])
    n_keys = (len(doc[19]) if doc[19] else 0) + doc[20]
    body = data[_HEADER.size + size :]
    keys = list(struct.unpack(f"<{n_keys}Q", body[len(body) - 8 * n_keys :]))
    change(doc, keys)
    text = orjson.dumps(doc)
    tail = struct.pack(f"<{len(keys)}Q", *keys)
    return _HEADER.pack(3, flags, len(text)) + text + body[: len(body) - 8 * n_keys] + tail


def _set(doc: list[Any], at: int, value: Any) -> None:
    doc[at] = value


@pytest.mark.parametrize("half_life", [0, 1e-300, 36_501, 1e300, "180"])
def test_format_3_refuses_a_half_life_out_of_range(half_life: Any) -> None:
    data = old("exposures")
    assert decode_state(_rewritten(data, lambda doc, keys: _set(doc, 1, 0.001))) is not None
    with pytest.raises(ValueError, match="wrong shape"):
        decode_state(_rewritten(data, lambda doc, keys: _set(doc, 1, half_life)))


@pytest.mark.parametrize(
    "change",
    [
        lambda doc, keys: keys.__setitem__(-1, keys[-2]),  # a folded activity twice
        lambda doc, keys: _set(doc, 20, True),  # a count that is no number
        lambda doc, keys: _set(doc, 19, []),  # an empty list where none is written
        lambda doc, keys: doc[19].reverse(),  # kept exposures out of order
        lambda doc, keys: doc[19][0].__setitem__(1, "0x" + doc[19][0][1]),  # a code misspelt
        lambda doc, keys: doc[19][0].__setitem__(1, "-1"),  # a negative code
        lambda doc, keys: doc[19][0].__setitem__(1, f"{1 << 40:x}"),  # no such skill
        lambda doc, keys: doc[19][0].__setitem__(0, 99),  # no such kept statement
        lambda doc, keys: doc[19][0].__setitem__(1, f"{int(doc[19][0][1], 16) | 0x10:x}"),
    ],
)
def test_format_3_refuses_malformed_exposures(
    change: Callable[[list[Any], list[int]], None],
) -> None:
    data = old("exposures")
    assert decode_state(_rewritten(data, lambda doc, keys: None)) is not None
    with pytest.raises(ValueError, match="wrong shape"):
        decode_state(_rewritten(data, change))


# --- format 4: malformed states ----------------------------------------------------------


def _first_exposure(state: ProfileState) -> tuple[int, list[int]]:
    return next(iter(state.exposures.expo.items()))


def _recode(state: ProfileState, key: int, row: list[int]) -> None:
    expo = dict(state.exposures.expo)
    expo[key] = row
    state.exposures.expo = expo


def _no_kept_statement(state: ProfileState) -> None:
    key, (a, c, hi, lo) = _first_exposure(state)
    del state.exposures.expo[key]
    _recode(state, (hi + 1) ^ lo, [a, c, hi + 1, lo])


def _evidence_code(state: ProfileState) -> None:
    key, (a, c, hi, lo) = _first_exposure(state)
    _recode(state, key, [a, c | EVIDENCE, hi, lo])


def _no_such_skill(state: ProfileState) -> None:
    key, (a, _, hi, lo) = _first_exposure(state)
    _recode(state, key, [a, (1 << (SKILL_SHIFT + 40)) | (state.kept.rc[0] & 0xF), hi, lo])


def _wrong_key(state: ProfileState) -> None:
    key, row = _first_exposure(state)
    del state.exposures.expo[key]
    _recode(state, key ^ 1, row)


def _short_row(state: ProfileState) -> None:
    for k in list(state.exposures.expo):
        state.exposures.expo[k] = state.exposures.expo[k][:3]


@pytest.mark.parametrize(
    "change",
    [
        _no_kept_statement,
        _evidence_code,
        _no_such_skill,
        _wrong_key,
        _short_row,
        lambda s: s.skills.touches.pop(),  # a skill column shorter than the table
        lambda s: s.kept.rh.pop(),  # a kept column shorter than the others
        lambda s: s.totals.counts.pop(),
        lambda s: s.totals.att_n.append(1),
        lambda s: s.memory.fired_lo.append(1),
    ],
)
def test_format_4_refuses_parts_that_do_not_fit(change: Callable[[ProfileState], Any]) -> None:
    state = exposures()
    assert state.exposures.expo
    data = encode_state(state)
    assert encode_state(decode_state(data)) == data  # untouched, it reads
    change(state)
    with pytest.raises(ValueError, match="wrong shape"):
        decode_state(encode_state(state))


def _entry(name: str) -> int:
    """The place of field ``name`` in the format-4 JSON document."""
    return 3 + [field for _, field, _ in FIELDS].index(name)


def _with_doc(data: bytes, change: Callable[[list[Any]], None]) -> bytes:
    _, flags, size = _HEADER.unpack_from(data)
    doc = orjson.loads(data[_HEADER.size : _HEADER.size + size])
    change(doc)
    text = orjson.dumps(doc)
    return _HEADER.pack(STATE_FORMAT_VERSION, flags, len(text)) + text + data[_HEADER.size + size :]


@pytest.mark.parametrize(
    "change",
    [
        lambda doc: _set(doc, _entry("longest"), True),  # a number that is a bool
        lambda doc: _set(doc, _entry("names"), "python"),  # a list that is a text
        lambda doc: _set(doc, _entry("att_n"), ["-1"]),  # a negative count
        lambda doc: _set(doc, _entry("att_n"), ["0x1"]),  # a misspelt count
        lambda doc: _set(doc, _entry("rt"), -1),  # a negative size
        lambda doc: _set(doc, 1, 0),  # no half-life
        lambda doc: _set(doc, 1, 1e-300),  # a half-life that makes decay buckets of no width
        lambda doc: _set(doc, 1, 1e300),  # a half-life of more than any rules may set
        lambda doc: _set(doc, 1, "180"),  # a half-life that is a text
        lambda doc: _set(doc, 2, [0, 0, 0, 0, 0]),  # an array size missing
        lambda doc: doc[2].__setitem__(3, doc[2][3] - 1),  # an array shorter than its fields
        lambda doc: doc.append(0),  # a field too many
        lambda doc: _set(doc, _entry("horizon"), 2),  # two keys where one is
        lambda doc: _set(doc, _entry("horizon"), [1, 2]),  # a key in the wrong place
    ],
)
def test_format_4_refuses_a_malformed_document(change: Callable[[list[Any]], None]) -> None:
    data = encode_state(exposures())
    assert decode_state(_with_doc(data, lambda doc: None)) is not None
    with pytest.raises(ValueError, match=r"wrong shape|truncated"):
        decode_state(_with_doc(data, change))


def test_format_4_refuses_a_set_with_twins() -> None:
    data = encode_state(CASES["plain"]())  # nothing folded, no exposure
    twins = _with_doc(data, lambda doc: _set(doc, _entry("expo_folded"), ["1", "1"]))
    pair = _with_doc(data, lambda doc: _set(doc, _entry("expo_folded"), ["1", "2"]))
    assert decode_state(pair).exposures.expo_folded == {1, 2}
    with pytest.raises(ValueError, match="wrong shape"):
        decode_state(twins)


def _scores(state: ProfileState) -> None:
    """A score on a statement that is no evidence."""
    plain = [i for i, c in enumerate(state.kept.rc) if not c & EVIDENCE]
    state.kept.rv[plain[0]] = 0.7


def _unscored(state: ProfileState) -> None:
    """Evidence without its score."""
    scored = [i for i, c in enumerate(state.kept.rc) if c & EVIDENCE]
    state.kept.rv[scored[0]] = NO_SCORE


@pytest.mark.parametrize("change", [_scores, _unscored])
def test_format_4_refuses_scores_that_disagree_with_the_evidence_bit(
    change: Callable[[ProfileState], None],
) -> None:
    state = CASES["plain"]()  # an assessment and an activity
    change(state)
    with pytest.raises(ValueError, match="wrong shape"):
        decode_state(encode_state(state))


@pytest.mark.parametrize(
    "positions",
    [["1", "0"], ["0", "0"]],  # out of order, twice
)
def test_format_4_refuses_score_positions_out_of_order(positions: list[str]) -> None:
    state = CASES["plain"]()
    state.kept.rc = [c | EVIDENCE for c in state.kept.rc]
    state.kept.rv = [0.5, 0.25]
    data = encode_state(state)
    assert encode_state(decode_state(data)) == data
    with pytest.raises(ValueError, match="wrong shape"):
        decode_state(_with_doc(data, lambda doc: doc[_entry("rv")].__setitem__(1, positions)))


def test_format_4_refuses_a_score_count_beyond_the_statements() -> None:
    data = encode_state(CASES["plain"]())
    huge = _with_doc(data, lambda doc: doc[_entry("rv")].__setitem__(0, 1 << 62))
    with pytest.raises(ValueError, match="wrong shape"):
        decode_state(huge)


def test_format_4_refuses_flags() -> None:
    data = encode_state(CASES["plain"]())
    with pytest.raises(ValueError, match="wrong shape"):
        decode_state(data[:1] + b"\x01" + data[2:])


def test_codes_wider_than_64_bits_round_trip() -> None:
    # Seventy skills, and the kept statements name the last: codes of 75 bits, written as
    # hex texts in the JSON; an exposure's code too.
    events = [event(f"s{i}", days=i / 100, skills=(f"skill-{i}",), score=0.5) for i in range(70)]
    events += [event(f"t{i}", days=1 + i, skills=("skill-69",), score=0.5) for i in range(3)]
    events.append(watched("w", "w", 5, skills=("skill-69",)))
    state, _ = run(events, Rules(evidence_cap=4))
    assert state.exposures.expo
    data = encode_state(state)
    _, _, size = _HEADER.unpack_from(data)
    doc = orjson.loads(data[_HEADER.size : _HEADER.size + size])
    assert isinstance(doc[_entry("rc")], list)  # the hex path
    assert isinstance(doc[_entry("expo")][1], list)
    back = decode_state(data)
    assert encode_state(back) == data
    assert back.kept.rc == state.kept.rc
    assert back.exposures.expo == state.exposures.expo


def test_a_negative_count_is_refused_when_encoding() -> None:
    state = CASES["plain"]()
    state.skills.touches[0] = -1
    with pytest.raises(ValueError, match="below zero"):
        encode_state(state)
    state.skills.touches[0] = 0
    state.kept.rc[0] |= 1 << 80  # the hex path, beside a negative code
    state.kept.rc[1] = -1
    with pytest.raises(ValueError, match="below zero"):
        encode_state(state)


def test_format_4_refuses_bytes_missing_or_left_over() -> None:
    data = encode_state(CASES["capped"]())
    with pytest.raises(ValueError, match=r"wrong shape|truncated"):
        decode_state(data[:-1])
    with pytest.raises(ValueError, match="wrong shape"):
        decode_state(data + b"\x00")


def test_every_field_is_in_use() -> None:
    # The cases between them put every field to work (the hex path of wide numbers has a
    # test of its own above), and each round trips exactly.
    states = [make() for make in CASES.values()]
    for part, name, _ in FIELDS:
        assert any(
            getattr(getattr(s, part), name) not in (None, 0, [], {}, set()) for s in states
        ), name
    for s in states:
        data = encode_state(s)
        assert encode_state(decode_state(data)) == data
