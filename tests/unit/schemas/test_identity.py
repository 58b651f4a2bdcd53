from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.identity import clear_cache, is_learner_key, learner_keys

SECRET = b"test-secret"
ANN = "mailto:ann@example.com"
ANN_SHA1 = hashlib.sha1(ANN.encode()).hexdigest()
BOB = "mailto:bob@example.com"


def agent(**ifi: object) -> dict[str, object]:
    return {"objectType": "Agent", **ifi}


def test_mbox_and_matching_sha1sum_are_one_learner() -> None:
    by_mbox = learner_keys(agent(mbox=ANN), SECRET)
    by_sha1 = learner_keys(agent(mbox_sha1sum=ANN_SHA1), SECRET)
    by_upper_sha1 = learner_keys(agent(mbox_sha1sum=ANN_SHA1.upper()), SECRET)
    assert by_mbox == by_sha1 == by_upper_sha1
    assert len(by_mbox) == 1


def test_an_agent_without_object_type_is_an_agent() -> None:
    assert learner_keys({"mbox": ANN}, SECRET) == learner_keys(agent(mbox=ANN), SECRET)


def test_the_mailto_iri_is_hashed_exactly_as_sent() -> None:
    assert learner_keys(agent(mbox=ANN), SECRET) != learner_keys(
        agent(mbox="mailto:Ann@Example.com"), SECRET
    )


def test_keys_are_short_printable_and_hide_the_address() -> None:
    (key,) = learner_keys(agent(mbox=ANN, name="Ann Example"), SECRET)
    assert is_learner_key(key)
    assert key.startswith("lrn_")
    assert len(key) == 30
    assert key.isascii()
    assert key == key.lower()
    for fragment in ("ann", "example", "@", "mailto", ANN_SHA1[:8]):
        assert fragment not in key


def test_the_key_depends_on_the_secret() -> None:
    assert learner_keys(agent(mbox=ANN), b"one") != learner_keys(agent(mbox=ANN), b"two")


def test_the_key_is_stable_across_cache_clears() -> None:
    first = learner_keys(agent(mbox=ANN), SECRET)
    clear_cache()
    assert learner_keys(agent(mbox=ANN), SECRET) == first


def test_account_and_openid_identify_learners() -> None:
    account = learner_keys(
        agent(account={"homePage": "https://lms.example.com", "name": "u1"}), SECRET
    )
    other_account = learner_keys(
        agent(account={"homePage": "https://lms.example.com", "name": "u2"}), SECRET
    )
    other_home = learner_keys(
        agent(account={"homePage": "https://other.example.com", "name": "u1"}), SECRET
    )
    openid = learner_keys(agent(openid="https://id.example.com/u1"), SECRET)
    keys = {account, other_account, other_home, openid}
    assert len(keys) == 4
    assert all(len(k) == 1 and is_learner_key(k[0]) for k in keys)


def test_a_group_credits_each_identified_member_once_in_order() -> None:
    group = {
        "objectType": "Group",
        "name": "Team Atlas",
        "mbox": "mailto:team@example.com",
        "member": [
            agent(mbox=BOB),
            agent(mbox=ANN),
            agent(mbox_sha1sum=ANN_SHA1),
            agent(account={"homePage": "https://lms.example.com", "name": "u3"}),
        ],
    }
    keys = learner_keys(group, SECRET)
    assert keys == (
        learner_keys(agent(mbox=BOB), SECRET)[0],
        learner_keys(agent(mbox=ANN), SECRET)[0],
        learner_keys(agent(account={"homePage": "https://lms.example.com", "name": "u3"}), SECRET)[
            0
        ],
    )


def test_an_identified_group_without_members_is_credited_itself() -> None:
    group = {"objectType": "Group", "mbox": "mailto:team@example.com"}
    assert learner_keys(group, SECRET) == learner_keys(
        agent(mbox="mailto:team@example.com"), SECRET
    )
    empty_members = {**group, "member": []}
    assert learner_keys(empty_members, SECRET) == learner_keys(group, SECRET)


def test_nothing_identified_gives_no_key() -> None:
    assert learner_keys({"objectType": "Agent", "name": "nobody"}, SECRET) == ()
    assert learner_keys({"objectType": "Group", "member": [{"name": "x"}]}, SECRET) == ()


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        learner_keys(agent(mbox=ANN), b"")


@given(st.emails())
def test_any_address_and_its_sha1_give_one_key(address: str) -> None:
    mbox = "mailto:" + address
    sha1 = hashlib.sha1(mbox.encode()).hexdigest()
    (key,) = learner_keys(agent(mbox=mbox), SECRET)
    assert learner_keys(agent(mbox_sha1sum=sha1), SECRET) == (key,)
    assert address not in key
