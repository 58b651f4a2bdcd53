"""``schemas.trusted``: a contract built from values made valid already is the contract
full validation makes of them, whichever way it is built.

Where the native module is built, ``trusted`` calls ``native.construct``
(``native/src/construct.rs``): the type's allocator and ``PyObject_GenericSetAttr``
without the call wrappers of ``object.__new__`` and ``object.__setattr__``. Both ways are
held here to the instance full validation makes, attribute by attribute.
"""

from __future__ import annotations

import abc
import functools
import pickle
import sys
from datetime import UTC, datetime
from typing import Any

import pydantic
import pydantic_core
import pytest
from pydantic import BaseModel

from schemas.catalog import Catalog
from schemas.compiled import shared_native
from schemas.events import LearningEvent, _probe_values, build_event
from schemas.milestones import MilestoneEvent
from schemas.trusted import trusted
from skillstream.config import SAMPLE_CATALOG, load_catalog, load_rules
from streams.core import apply, snapshot

NATIVE = shared_native()


def _values() -> dict[str, Any]:
    """A complete set of valid field values: the ones ``schemas.events`` probes its builder
    with when it is imported."""
    return _probe_values()


def _by_hand(cls: type[BaseModel], values: dict[str, Any]) -> BaseModel:
    """The Python way: ``object.__new__`` and ``object.__setattr__``."""
    obj = object.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(cls.model_fields))
    open_ = cls.model_config.get("extra") == "allow"
    object.__setattr__(obj, "__pydantic_extra__", {} if open_ else None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


def _hash(model: BaseModel) -> int | type[TypeError]:
    try:
        return hash(model)
    except TypeError:  # a contract holding a dict is unhashable, either way
        return TypeError


def _alike(built: BaseModel, expected: BaseModel) -> None:
    assert type(built) is type(expected)
    assert built == expected
    assert built.model_dump_json() == expected.model_dump_json()
    assert _hash(built) == _hash(expected)
    assert built.__dict__ == expected.__dict__
    assert built.__pydantic_fields_set__ == expected.__pydantic_fields_set__
    assert built.__pydantic_extra__ == expected.__pydantic_extra__
    assert built.__pydantic_private__ is None
    assert pickle.loads(pickle.dumps(built)) == expected


BUILDERS = {
    "trusted": lambda values: trusted(LearningEvent, values),
    "by hand": lambda values: _by_hand(LearningEvent, values),
    "build_event": build_event,
}


@pytest.mark.parametrize("way", sorted(BUILDERS))
def test_a_learning_event_is_the_one_validation_makes(way: str) -> None:
    expected = LearningEvent(**_values())
    values = _values()
    built = BUILDERS[way](values)
    _alike(built, expected)
    assert built.__dict__ is values  # kept as given, not copied
    with pytest.raises(Exception, match="frozen"):
        built.learner = "someone else"


def test_a_closed_contract_has_no_extra_and_an_open_one_its_own() -> None:
    assert LearningEvent.model_config.get("extra") == "forbid"
    assert trusted(LearningEvent, _values()).__pydantic_extra__ is None
    assert MilestoneEvent.model_config.get("extra") == "allow"
    values = MilestoneEvent.model_fields.keys()
    one = trusted(MilestoneEvent, dict.fromkeys(values))
    two = trusted(MilestoneEvent, dict.fromkeys(values))
    assert one.__pydantic_extra__ == {}
    assert one.__pydantic_extra__ is not two.__pydantic_extra__


def test_milestones_and_snapshots_the_core_builds_validate_alike() -> None:
    catalog: Catalog = load_catalog(SAMPLE_CATALOG)
    rules = load_rules(None)
    state = None
    fired: list[MilestoneEvent] = []
    for n in range(6):
        values = _values() | {
            "statement_id": f"6a1b2c3d-4e5f-4a6b-8c7d-0123456789a{n}",
            "time": datetime(2026, 3, 2 + n, 9, 30, tzinfo=UTC),
            "score": 1.0,
        }
        state, out = apply(state, LearningEvent(**values), catalog, rules)
        fired.extend(out)
    assert fired, "the events must fire a milestone for this test to check one"
    for milestone in fired:
        _alike(milestone, MilestoneEvent.model_validate_json(milestone.model_dump_json()))
    assert state is not None
    view = snapshot(state, catalog, rules)
    _alike(view, type(view).model_validate_json(view.model_dump_json()))


@pytest.mark.skipif(NATIVE is None, reason="the native module is not built (make compile)")
def test_the_native_construct_takes_only_what_object_new_takes() -> None:
    """Only a class made by the ``class`` statement on ``object``, not abstract: a type
    written in C (even a heap type made from a spec) would be allocated without its own
    ``__new__``, and ``object.__new__`` refuses it."""
    assert NATIVE is not None
    fields = set(LearningEvent.model_fields)
    _alike(NATIVE.construct(LearningEvent, _values(), fields, None), LearningEvent(**_values()))

    class OnDict(dict[str, Any]):
        pass

    class OnPartial(functools.partial[Any]):
        pass

    class Abstract(BaseModel, abc.ABC):
        @abc.abstractmethod
        def act(self) -> None: ...

    refused = [
        OnDict,
        int,
        functools.partial,  # a heap type made from a spec in C
        OnPartial,
        pydantic_core.SchemaValidator,  # a PyO3 class
        NATIVE.Normalizer,
        Abstract,
    ]
    for cls in refused:
        with pytest.raises(TypeError, match="made by the class statement, not abstract"):
            NATIVE.construct(cls, {}, fields, None)
        with pytest.raises(TypeError):
            object.__new__(cls)  # what the Python way calls refuses them too
    with pytest.raises(TypeError):
        NATIVE.construct(LearningEvent, ["not", "a", "dict"], fields, None)


def _python_twin(cls: type, values: dict[str, Any], fields: set[str], extra: Any) -> Any:
    """What ``native.construct`` stands for: ``object.__new__`` and ``object.__setattr__``."""
    obj = object.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", fields)
    object.__setattr__(obj, "__pydantic_extra__", extra)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


def _four_slots() -> type[Any]:
    """A new class with a slot for each of the four names ``construct`` sets (new per test:
    ``construct`` remembers the classes it has seen)."""

    class FourSlots:
        __slots__ = (
            "__dict__",
            "__pydantic_extra__",
            "__pydantic_fields_set__",
            "__pydantic_private__",
        )

    return FourSlots


@pytest.mark.skipif(NATIVE is None, reason="the native module is not built (make compile)")
def test_the_native_construct_sets_what_object_setattr_sets_on_any_class() -> None:
    """The setters ``construct`` remembers per class are the ones ``object.__setattr__``
    finds first along the MRO: slot descriptors (all four names, or some), a property
    with a setter, a plain class attribute (a ``None`` one too, as ``RootModel`` holds)
    that sends the value to the instance's dict; each class built twice (the second time
    from what was remembered), and more classes than are remembered."""
    assert NATIVE is not None
    extras: list[Any] = []

    four_slots = _four_slots()

    class Shadowed(four_slots):
        __pydantic_private__ = None  # found before the slot: the instance's dict takes it

    class Described(four_slots):
        __pydantic_extra__ = property(
            lambda self: extras[-1], lambda self, value: extras.append(value)
        )

    class Slotted:
        __slots__ = ("__dict__", "__pydantic_extra__", "__pydantic_fields_set__")
        __pydantic_private__ = "a class attribute, not a descriptor"

    class Plain:
        pass

    class Root(pydantic.RootModel[int]):
        pass

    fields = {"a"}
    many = [type(f"Made{n}", (four_slots,), {}) for n in range(80)]
    for cls in [four_slots, Shadowed, Described, Slotted, Plain, Root, *many]:
        for _ in range(2):
            built = NATIVE.construct(cls, {"a": 1}, fields, {"x": 2})
            expected = _python_twin(cls, {"a": 1}, fields, {"x": 2})
            assert type(built) is cls
            assert built.__dict__ == expected.__dict__
            assert built.__pydantic_fields_set__ is fields
            assert built.__pydantic_extra__ == {"x": 2}
            assert built.__pydantic_private__ is None
    assert extras == [{"x": 2}] * 4  # the property's setter, both ways, twice
    assert "__pydantic_private__" in NATIVE.construct(Shadowed, {}, fields, None).__dict__
    event = NATIVE.construct(LearningEvent, _values(), set(LearningEvent.model_fields), None)
    _alike(event, LearningEvent(**_values()))


@pytest.mark.skipif(NATIVE is None, reason="the native module is not built (make compile)")
def test_the_native_construct_keeps_no_reference_it_does_not_give() -> None:
    """Building and dropping instances leaves every object ``construct`` touched with the
    references it had: the remembered descriptors (held while setting, let go after), the
    class, and the values the instances held."""
    assert NATIVE is not None
    four_slots = _four_slots()

    descriptors = [four_slots.__dict__[name] for name in four_slots.__slots__]
    fields, extra = {"a"}, {"x": 1}
    NATIVE.construct(four_slots, {"a": 1}, fields, extra)  # remembered from here on
    watched = [*descriptors, four_slots, fields, extra]
    before = [sys.getrefcount(obj) for obj in watched]
    for _ in range(1_000):
        NATIVE.construct(four_slots, {"a": 1}, fields, extra)
    assert [sys.getrefcount(obj) for obj in watched] == before
    held = sys.getrefcount(fields)
    kept = [NATIVE.construct(four_slots, {"a": 1}, fields, extra) for _ in range(10)]
    assert sys.getrefcount(fields) == held + 10  # each instance holds the one set
    del kept
    assert sys.getrefcount(fields) == held
