"""Operators' identifiers and JSON Agents give the key the pipeline gives that person."""

from __future__ import annotations

import hashlib

import pytest

from schemas.identity import learner_keys
from skillstream.learners import FORMS, InvalidAgent, learner_for_ifi

SECRET = b"test-secret"
ANN = "mailto:ann@example.com"
ANN_SHA1 = hashlib.sha1(ANN.encode()).hexdigest()


def agent(**ifi: object) -> dict[str, object]:
    return {"objectType": "Agent", **ifi}


@pytest.mark.parametrize(
    ("ifi", "actor"),
    [
        (ANN, agent(mbox=ANN)),
        (f"sha1:{ANN_SHA1}", agent(mbox=ANN)),
        (f"sha1:{ANN_SHA1.upper()}", agent(mbox_sha1sum=ANN_SHA1)),
        (
            "account:https://lms.example.com|u 1|x",
            agent(account={"homePage": "https://lms.example.com", "name": "u 1|x"}),
        ),
        ("openid:https://id.example.com/u1", agent(openid="https://id.example.com/u1")),
        ("  MAILTO:ann@example.com ", agent(mbox=ANN)),
    ],
)
def test_operator_identifiers_give_the_pipelines_key(ifi: str, actor: dict[str, object]) -> None:
    assert learner_for_ifi(ifi, SECRET).learner == learner_keys(actor, SECRET)[0]


@pytest.mark.parametrize(
    "ifi",
    [
        "mailto:ann",
        "mailto:ann@example.com?subject=hi",
        "sha1:abc",
        "sha1:" + "g" * 40,
        "account:https://lms.example.com",
        "account:|u1",
        "account:lms|u1",
        "openid:not-a-uri",
        "tel:+4912345",
        "",
    ],
)
def test_other_operator_input_is_refused_without_echoing_it(ifi: str) -> None:
    with pytest.raises(InvalidAgent) as raised:
        learner_for_ifi(ifi, SECRET)
    message = str(raised.value)
    assert message
    if ifi:
        assert ifi not in message


@pytest.mark.parametrize(
    ("ifi", "actor"),
    [
        ("ann@example.com", agent(mbox=ANN)),
        (ANN_SHA1, agent(mbox=ANN)),
        (
            "https://lms.example.com|u00042",
            agent(account={"homePage": "https://lms.example.com", "name": "u00042"}),
        ),
        ('{"mbox": "mailto:ann@example.com"}', agent(mbox=ANN)),
        ("https://id.example.com/u1", agent(openid="https://id.example.com/u1")),
    ],
)
def test_the_short_forms_learner_key_takes(ifi: str, actor: dict[str, object]) -> None:
    found = learner_for_ifi(ifi, SECRET)
    assert found.learner == learner_keys(actor, SECRET)[0]


def test_the_forms_are_described_for_help_texts() -> None:
    assert len(FORMS) == 5
    assert any("e-mail address" in form for form in FORMS)
