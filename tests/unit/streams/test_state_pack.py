"""A state's number arrays as bytes: the native packer (``native/src/pack.rs``) gives what
the Python one gives (``python_pack``, the reference and the way without the native
module), which is ``array(code, values)`` little-endian. Both refuse a number out of its
array's range; the native one takes exact ints and floats only (``encode_state`` passes no
other), where the Python one also takes an object with ``__index__``.
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.compiled import shared_native
from streams.core.state import _pack, python_pack

NATIVE = shared_native()
needs_native = pytest.mark.skipif(NATIVE is None, reason="the native module is not built")

RANGES = {
    "B": (0, 0xFF),
    "H": (0, 0xFFFF),
    "I": (0, 0xFFFF_FFFF),
    "Q": (0, (1 << 64) - 1),
    "q": (-(1 << 63), (1 << 63) - 1),
}


def little(code: str, values: list[Any]) -> bytes:
    a = array(code, values)
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def packers() -> list[Any]:
    return [python_pack, _pack] + ([NATIVE.pack] if NATIVE is not None else [])


@given(st.data())
def test_integers_pack_as_the_array_does(data: st.DataObject) -> None:
    code = data.draw(st.sampled_from(sorted(RANGES)))
    low, top = RANGES[code]
    edges = st.sampled_from([low, top, low + 1, top - 1, 0 if low == 0 else -1])
    values = data.draw(st.lists(st.integers(low, top) | edges, max_size=300))
    expected = little(code, values)
    assert len(expected) == len(values) * struct.calcsize(code)
    for pack in packers():
        assert pack(code, list(values)) == expected, pack


@given(st.lists(st.floats(allow_nan=True) | st.integers(-(1 << 53), 1 << 53), max_size=200))
def test_doubles_pack_as_the_array_does(values: list[float]) -> None:
    expected = little("d", values)
    for pack in packers():
        assert pack("d", list(values)) == expected, pack


def test_a_nan_keeps_its_bits() -> None:
    nan = struct.unpack("<d", bytes.fromhex("0100000000f8ff7f"))[0]
    assert math.isnan(nan)
    for pack in packers():
        assert pack("d", [nan, -0.0]) == bytes.fromhex("0100000000f8ff7f") + struct.pack("<d", -0.0)


def test_an_empty_list_packs_to_no_bytes() -> None:
    for pack in packers():
        for code in [*RANGES, "d"]:
            assert pack(code, []) == b""


@pytest.mark.parametrize("code", sorted(RANGES))
def test_an_integer_out_of_range_is_refused(code: str) -> None:
    low, top = RANGES[code]
    for bad in (low - 1, top + 1, 1 << 70, -(1 << 70)):
        with pytest.raises((OverflowError, ValueError)):  # bytes() says ValueError for B
            python_pack(code, [0, bad])
        if NATIVE is not None:
            with pytest.raises(OverflowError):
                NATIVE.pack(code, [0, bad])


class Index:
    """An int by ``__index__``: the native packer never calls it (Python code while it
    reads the list)."""

    calls = 0

    def __index__(self) -> int:
        Index.calls += 1
        return 1


@needs_native
@pytest.mark.parametrize("code", [*sorted(RANGES), "d"])
def test_the_native_packer_takes_ints_and_floats_only(code: str) -> None:
    assert NATIVE is not None
    wrong: list[Any] = ["1", None, b"\x01", Index()]
    if code != "d":
        wrong.append(1.0)
    for item in wrong:
        with pytest.raises(TypeError):
            NATIVE.pack(code, [1, item])
    assert Index.calls == 0
    assert NATIVE.pack(code, [True, False]) == little(code, [1, 0])  # bool is an int


@needs_native
def test_the_native_packer_names_a_code_it_does_not_know() -> None:
    assert NATIVE is not None
    with pytest.raises(ValueError, match='"x"'):
        NATIVE.pack("x", [1])


@needs_native
def test_a_double_out_of_range_is_refused() -> None:
    assert NATIVE is not None
    with pytest.raises(OverflowError):
        NATIVE.pack("d", [1 << 1100])
