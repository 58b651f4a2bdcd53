"""Naming a learner the way operators and HR systems do: from what they hold to the key.

Learner keys (``lrn_…``) are keyed hashes of an actor's identifier
(``schemas.identity``), but people hold e-mail addresses, account names and
xAPI Agents. This module turns each form an operator types (``FORMS``) or an
HTTP client sends (a JSON Agent, as in the xAPI Statement API's ``agent``
parameter) into an xAPI Agent, checks it with the statement validator's own
actor rules and keys it with the pipeline's own function, so the key is the one
the worker gives that person's statements under the same secret.
``skillstream learner-key``, ``skillstream forget`` and the front door's learner
queries all go through :func:`learner_for_ifi` or :func:`learner_of_agent`.

No message produced here repeats an identifier: it may be an e-mail address.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import orjson

from schemas.identity import learner_keys
from schemas.xapi import StatementProblem, XapiVersion, validate_statement

FORMS: Final = (
    "an e-mail address (ada@example.com or mailto:ada@example.com, exactly as the LMS sends it)",
    "an mbox_sha1sum (40 hex digits, or sha1:<hex>)",
    "an openid URL (https://…, or openid:<uri>)",
    "an account as HOMEPAGE|NAME (https://lms.example.com|u00042, or account:HOMEPAGE|NAME)",
    'a JSON Agent ({"mbox": "mailto:…"}, {"account": {"homePage": "…", "name": "…"}})',
)
"""What an operator may name a learner by, for messages and help texts."""

AGENT_EXAMPLE: Final = '{"mbox": "mailto:ada@example.com"}'
AGENT_IFIS: Final = ("mbox", "mbox_sha1sum", "openid", "account")
"""The inverse functional identifiers an Agent names its learner by (exactly one)."""
MAX_AGENT_CHARS: Final = 4096

_ACTOR: Final = "$.actor"
_CARRIER: Final[dict[str, Any]] = {
    "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
    "object": {"id": "https://w3id.org/skillstream/learner-query"},
}
"""A valid verb and object around the Agent, so the statement validator checks the Agent as
the actor of a statement (and only that: its other problems are none)."""
_NOT_SHOWN: Final = "(value not shown)"


@dataclass(frozen=True, slots=True)
class AgentLearner:
    """The learner an Agent names: which identifier named it, and its key."""

    ifi: str
    """mbox, mbox_sha1sum, openid or account."""
    learner: str


class InvalidAgent(ValueError):
    """The Agent names no learner. ``problems`` have JSON paths inside the Agent (``$.mbox``)
    and never repeat its values."""

    def __init__(self, problems: list[StatementProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


def parse_agent(text: str) -> object:
    """The JSON value of an ``agent`` parameter; ``InvalidAgent`` if it is not JSON."""
    if len(text) > MAX_AGENT_CHARS:
        raise InvalidAgent(
            [
                StatementProblem(
                    "$", f"the agent is over {MAX_AGENT_CHARS} characters; no Agent is", "json"
                )
            ]
        )
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidAgent(
            [
                StatementProblem(
                    "$",
                    f"the agent is not JSON ({exc.msg} at character {exc.pos}); send a JSON "
                    f"Agent such as {AGENT_EXAMPLE}",
                    "json",
                )
            ]
        ) from None


def learner_of_agent(agent: object, secret: bytes) -> AgentLearner:
    """The learner an xAPI Agent names, keyed as the pipeline keys that actor's statements.

    The Agent must pass the statement validator's actor rules (exactly one of mbox,
    mbox_sha1sum, openid and account, each well-formed; no unknown property) and be an
    Agent: a Group's members are each a learner of their own. ``InvalidAgent`` lists every
    problem otherwise, without repeating any value of the Agent.
    """
    if not isinstance(agent, dict):
        raise InvalidAgent(
            [
                StatementProblem(
                    "$",
                    f"the agent must be a JSON object naming one learner, such as {AGENT_EXAMPLE}",
                    "type",
                )
            ]
        )
    if agent.get("objectType") == "Group":
        raise InvalidAgent(
            [
                StatementProblem(
                    "$.objectType",
                    'a learner query names one person: send an Agent (objectType "Agent" or '
                    "none); each member of a Group is a learner of their own",
                    "group",
                )
            ]
        )
    found = validate_statement({"actor": agent, **_CARRIER}, XapiVersion.V2_0)
    problems = [_inside_agent(p, agent) for p in found if _about_actor(p.path)]
    if problems:
        raise InvalidAgent(problems)
    ifi = next(name for name in AGENT_IFIS if name in agent)
    return AgentLearner(ifi, learner_keys(agent, secret)[0])


def _about_actor(path: str) -> bool:
    return path == _ACTOR or path.startswith((_ACTOR + ".", _ACTOR + "["))


def _inside_agent(problem: StatementProblem, agent: dict[Any, Any]) -> StatementProblem:
    """The problem with its path relative to the Agent and every value of it masked."""
    path = "$" + problem.path[len(_ACTOR) :]
    message = problem.message
    for value in _private(agent):
        for shown in _renderings(value):
            path = path.replace(shown, _NOT_SHOWN)
            message = message.replace(shown, _NOT_SHOWN)
    return StatementProblem(path, message, problem.code)


def _private(value: object) -> Iterator[str]:
    """Every string value in the Agent, and every property name holding an "@"."""
    if isinstance(value, str):
        if value:
            yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "@" in key:
                yield key
            yield from _private(item)
    elif isinstance(value, list):
        for item in value:
            yield from _private(item)


def _renderings(value: str) -> tuple[str, ...]:
    """How the validator quotes a value in a message or path: whole, or cut after 77 chars."""
    whole = json.dumps(value, ensure_ascii=False)
    if len(value) <= 80:
        return (whole,)
    return (whole, json.dumps(value[:77] + "...", ensure_ascii=False))


def agent_of(ifi: str) -> object:
    """The xAPI Agent an operator's identifier stands for (see ``FORMS``).

    The Agent is not checked here (``learner_of_agent`` does); ``InvalidAgent`` only when the
    text is in none of the forms.
    """
    text = ifi.strip()
    if text.startswith(("{", "[")):
        return parse_agent(text)
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower() if colon else ""
    if scheme == "mailto":
        return {"mbox": "mailto:" + rest}
    if scheme in ("sha1", "mbox_sha1sum"):
        return {"mbox_sha1sum": rest}
    if scheme == "openid":
        return {"openid": rest}
    if scheme == "account" or "|" in text:
        home_page, bar, name = (rest if scheme == "account" else text).partition("|")
        if not (bar and home_page and name):
            raise _no_form("an account is its homePage URL and its name, joined by |")
        return {"account": {"homePage": home_page, "name": name}}
    if scheme in ("http", "https"):
        return {"openid": text}
    if "@" in text:
        return {"mbox": "mailto:" + text}
    if len(text) == 40:
        return {"mbox_sha1sum": text}
    raise _no_form(
        "it is neither an e-mail address, 40 hex digits, a URL, HOMEPAGE|NAME nor a JSON Agent"
    )


def learner_for_ifi(ifi: str, secret: bytes) -> AgentLearner:
    """The learner an operator names in any of ``FORMS``; ``InvalidAgent`` says why not."""
    return learner_of_agent(agent_of(ifi), secret)


def _no_form(why: str) -> InvalidAgent:
    return InvalidAgent([StatementProblem("$", why, "form")])
