"""Ids in the profile core: the native conversions (``native/src/ids.rs``) give what the
Python ones give, which stay the reference and the way without the native module.
"""

from __future__ import annotations

import random
import struct
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.compiled import shared_native
from schemas.milestones import _ID_NAMESPACE, achievement_number
from streams.core.milestones import id_halves, milestone_key
from streams.core.state import (
    MASK64,
    ProfileState,
    python_statement_key,
    python_uuid_text,
    statement_key,
    uuid_text,
)

NATIVE = shared_native()
needs_native = pytest.mark.skipif(NATIVE is None, reason="the native module is not built")

CANONICAL = [str(uuid.UUID(int=random.Random(n).getrandbits(128))) for n in range(200)] + [
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
]
ODD = [
    "",
    "6A1B2C3D-4E5F-4A6B-8C7D-0123456789AB",  # upper case: kept as text
    "6a1b2c3d-4e5f-4a6b-8c7d-0123456789a",  # short
    "6a1b2c3d-4e5f-4a6b-8c7d-0123456789abc",  # long
    "6a1b2c3d4e5f-4a6b-8c7d-0123456789ab-",  # dashes elsewhere
    "6a1b2c3d-4e5f-4a6b-8c7d-0123456789ag",  # not hex
    "6a1b2c3d-4e5f-4a6b-8c7d-012345678٩ab",  # a digit outside ASCII
    "6a1b2c3d-4e5f-4a6b-8c7d-0123456789_b",  # what int() would skip
    " a1b2c3d-4e5f-4a6b-8c7d-0123456789ab",  # what int() would strip
    "urn:uuid:6a1b2c3d-4e5f-4a6b-8c7d-01",
]


def test_the_public_functions_give_the_reference() -> None:
    for sid in CANONICAL + ODD:
        assert statement_key(sid) == python_statement_key(sid), sid
    for sid in CANONICAL:
        hi, lo, odd = statement_key(sid)
        assert not odd
        assert uuid_text(hi, lo) == python_uuid_text(hi, lo) == sid
    for sid in ODD:
        assert statement_key(sid)[2], sid


@needs_native
def test_the_native_key_takes_canonical_uuids_only() -> None:
    assert NATIVE is not None
    for sid in CANONICAL:
        assert NATIVE.statement_key(sid) == python_statement_key(sid)
    for sid in ODD:
        assert NATIVE.statement_key(sid) is None, sid


@needs_native
@given(st.integers(0, MASK64), st.integers(0, MASK64))
def test_the_native_text_of_any_halves(hi: int, lo: int) -> None:
    assert NATIVE is not None
    text = NATIVE.uuid_text(hi, lo)
    assert text == python_uuid_text(hi, lo) == str(uuid.UUID(int=hi << 64 | lo))
    assert NATIVE.statement_key(text) == (hi, lo, False)


@needs_native
@pytest.mark.parametrize(
    ("hi", "lo", "error"),
    [
        (-1, 0, OverflowError),
        (0, MASK64 + 1, OverflowError),
        (1 << 100, 0, OverflowError),
        (1.0, 0, TypeError),
        (0, "0", TypeError),
        (None, 0, TypeError),
    ],
)
def test_the_native_text_refuses_what_is_no_half(hi: object, lo: object, error: type) -> None:
    """A half is an int in 0..2**64: anything else raises, as the Python twin's
    ``struct.pack`` does (``MASK64`` itself, the error marker of the C call, is a half:
    see ``CANONICAL``'s last)."""
    assert NATIVE is not None
    with pytest.raises(error):
        NATIVE.uuid_text(hi, lo)
    with pytest.raises((error, struct.error)):
        python_uuid_text(hi, lo)  # type: ignore[arg-type]


@needs_native
@given(st.text(alphabet="0123456789abcdefABCDEF-g ", min_size=34, max_size=38))
def test_the_native_key_of_near_uuids(sid: str) -> None:
    assert NATIVE is not None
    expected = python_statement_key(sid)
    got = NATIVE.statement_key(sid)
    assert got is None if expected[2] else got == expected


names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(names, names, st.one_of(st.none(), names), names)
def test_a_milestones_halves_are_its_id(
    learner: str, rule: str, skill: str | None, level: str
) -> None:
    """``id_halves`` (native where built, else Python) against the reference
    ``schemas.milestones.achievement_number``, on any text, non-ASCII included."""
    number = achievement_number(learner, rule, skill, level)
    state = ProfileState(learner, 30.0)
    assert id_halves(state, milestone_key(rule, skill, level)) == (number >> 64, number & MASK64)
    if NATIVE is not None:
        name = f"{learner}\x1f{milestone_key(rule, skill, level)}"
        assert NATIVE.uuid5_halves(_ID_NAMESPACE.bytes, name) == (number >> 64, number & MASK64)
