"""Pseudonymous learner keys, derived from an xAPI actor's identifier.

Every learner credited by a statement is known downstream only by a key such
as ``lrn_5q3v7m2k4w6xtzdabc3e5g7ink`` ("lrn_" and 26 lower-case base32
characters: the first 128 bits of an HMAC-SHA256). The key is

    HMAC-SHA256(secret, canonical IFI)

where the canonical IFI (inverse functional identifier) is one of

* ``mbox_sha1sum:<40 lower-case hex>`` for an ``mbox`` *and* for an
  ``mbox_sha1sum``: an ``mbox`` is first hashed with SHA-1 exactly as sent
  (``mailto:`` included, case kept, as the xAPI specification defines
  ``mbox_sha1sum``), so a learner whose LMS sends the address one day and its
  SHA-1 the next has one key; the hex is compared case-insensitively;
* ``account:<homePage>|<name>`` (an IRI holds no ``|``, so the split is unique);
* ``openid:<uri>``.

Why a keyed hash: a bare SHA-1 of an e-mail address can be reversed by hashing
guessed addresses; without the secret (``SKILLSTREAM_LEARNER_KEY_SECRET``) a
key reveals nothing. Changing the secret re-keys every learner, so it is set
once per deployment. No e-mail address, name or account name ever leaves this
module: a key is all the pipeline stores.

Actors: an Agent yields its own key. A Group with members yields one key per
identified member, de-duplicated, in the order the members are listed (the
group's own identifier, if any, is not credited then: the learners are). An
identified Group without members yields the group's own key.

Keys are remembered in a bounded in-process cache, because one HMAC costs a
few microseconds and the same learners recur statement after statement.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Final

KEY_PREFIX: Final = "lrn_"
KEY_LENGTH: Final = len(KEY_PREFIX) + 26


_CACHE_LIMIT: Final = 1 << 17
_caches: dict[bytes, dict[str, str]] = {}
"""Per secret: IFI as sent (an mbox, or a canonical IFI) -> key. Bounded, in-process only."""


def _key(secret: bytes, canonical: str) -> str:
    digest = hmac.new(secret, canonical.encode("utf-8"), hashlib.sha256).digest()
    return KEY_PREFIX + base64.b32encode(digest[:16]).decode("ascii")[:26].lower()


def _mbox_canonical(mbox: str) -> str:
    return "mbox_sha1sum:" + hashlib.sha1(mbox.encode("utf-8")).hexdigest()  # noqa: S324 - the xAPI IFI


def _cache(secret: bytes) -> dict[str, str]:
    cache = _caches.get(secret)
    if cache is None:
        _check_secret(secret)
        if len(_caches) >= 8:
            _caches.clear()
        cache = _caches[secret] = {}
    return cache


def clear_cache() -> None:
    """Forget every remembered key (tests and benchmarks of the uncached path)."""
    _caches.clear()


def _agent_key(agent: Mapping[str, Any], secret: bytes, cache: dict[str, str]) -> str | None:
    mbox: str | None = agent.get("mbox")
    if mbox is not None:
        key = cache.get(mbox)
        if key is None:
            key = _key(secret, _mbox_canonical(mbox))
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[mbox] = key
        return key
    canonical = _canonical(agent)
    if canonical is None:
        return None
    key = cache.get(canonical)
    if key is None:
        key = _key(secret, canonical)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[canonical] = key
    return key


def _canonical(agent: Mapping[str, Any]) -> str | None:
    """The canonical IFI of an Agent or identified Group, ``None`` if it has none."""
    mbox: str | None = agent.get("mbox")
    if mbox is not None:
        return _mbox_canonical(mbox)
    sha1: str | None = agent.get("mbox_sha1sum")
    if sha1 is not None:
        return "mbox_sha1sum:" + sha1.lower()
    account = agent.get("account")
    if account is not None:
        return f"account:{account['homePage']}|{account['name']}"
    openid: str | None = agent.get("openid")
    if openid is not None:
        return "openid:" + openid
    return None


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes) or not secret:
        raise ValueError("the learner-key secret must be non-empty bytes")


def learner_keys(actor: Mapping[str, Any], secret: bytes) -> tuple[str, ...]:
    """The keys of the learners an actor credits (see the module docstring).

    ``actor`` is the ``actor`` of a statement that passed validation. The
    result is empty only for a Group with neither an identifier nor an
    identified member, which a valid statement cannot have.
    """
    cache = _caches.get(secret) or _cache(secret)
    if actor.get("objectType") == "Group":
        members = actor.get("member")
        if members:
            keys: dict[str, None] = {}  # each learner once, in the members' order
            for member in members:
                key = _agent_key(member, secret, cache)
                if key is not None:
                    keys[key] = None
            if keys:
                return tuple(keys)
    key = _agent_key(actor, secret, cache)
    return () if key is None else (key,)


def is_learner_key(value: str) -> bool:
    """Whether a string has the shape of a learner key (not whether it is known)."""
    return (
        len(value) == KEY_LENGTH
        and value.startswith(KEY_PREFIX)
        and all(c in "abcdefghijklmnopqrstuvwxyz234567" for c in value[len(KEY_PREFIX) :])
    )
