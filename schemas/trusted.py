"""Building contract models from values skillstream produced itself.

A learning event is built per statement, a snapshot per learner per batch and a
milestone per achievement; full pydantic validation would cost more than the work
behind them. The normalizer and the profile core build every value in its contract's
shape, and the unit tests check each kind of output against full validation. Compiled
with mypyc (``schemas.COMPILED_MODULES``): the hot path calls it once per statement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from pydantic import BaseModel

from schemas.compiled import shared_native

_M = TypeVar("_M", bound=BaseModel)
_new: Final = object.__new__
_set: Final = object.__setattr__
_FIELDS: Final[dict[type[BaseModel], tuple[set[str], bool]]] = {}
_native: Final = shared_native()
_construct: Final[Callable[..., Any] | None] = None if _native is None else _native.construct
"""The same, without the call wrappers of ``object.__new__`` and ``object.__setattr__``
(``native/src/construct.rs``), where the native module is built."""


def trusted(cls: type[_M], values: dict[str, Any]) -> _M:
    """An instance of ``cls`` holding ``values`` as they are.

    What ``model_construct`` does for a model without aliases or private
    attributes, without its per-field loop. ``values`` must name every field,
    defaults included; an open (``extra="allow"``) contract gets no extra ones.
    """
    fields, open_ = _known(cls)
    if _construct is not None:
        made: _M = _construct(cls, values, fields, {} if open_ else None)
        return made
    obj: _M = _new(cls)
    _set(obj, "__dict__", values)
    # One set per class, shared: ``values`` names every field, and nothing here
    # assigns to a frozen contract afterwards.
    _set(obj, "__pydantic_fields_set__", fields)
    _set(obj, "__pydantic_extra__", {} if open_ else None)
    _set(obj, "__pydantic_private__", None)
    return obj


def _known(cls: type[BaseModel]) -> tuple[set[str], bool]:
    """``cls``'s field names, as the one set its instances share, and whether it is open."""
    known = _FIELDS.get(cls)
    if known is None:
        known = _FIELDS[cls] = (set(cls.model_fields), cls.model_config.get("extra") == "allow")
    return known


def closed_fields(cls: type[BaseModel]) -> set[str] | None:
    """The set of field names every instance of ``cls`` that ``trusted`` builds shares (its
    ``__pydantic_fields_set__``), for a builder outside Python (``native/src/ingest.rs``);
    None for an open contract, whose instances each get an extra dict."""
    fields, open_ = _known(cls)
    return None if open_ else fields
