"""``skillstream learner-key``: from what an operator holds about a person to their learner key.

Every form is turned into an xAPI Agent, checked with the statement
validator's actor rules and hashed with the pipeline's own function
(``skillstream.learners``), so the key printed is the
one the worker gives that person's statements under the same
``SKILLSTREAM_LEARNER_KEY_SECRET``. Nothing is stored or sent, and no message
repeats the identifier (it may be an e-mail address).
"""

from __future__ import annotations

import json
from typing import Any

import typer

from schemas.identity import is_learner_key
from skillstream.cli import err
from skillstream.errors import UsageError
from skillstream.learners import FORMS, InvalidAgent, learner_for_ifi
from skillstream.settings import Settings, load_settings

LEARNER_KEY_HELP = "\n\n".join(
    (
        "Print the learner key (lrn_…) of a person, to query their profile and milestones "
        "(GET /learners/KEY/profile, the learner.profiles and milestones tables) or to erase "
        "them.",
        (
            "IFI is what you hold about the person: " + "; ".join(FORMS) + ". An mbox and the "
            "mbox_sha1sum of the same mailto IRI give the same key. The case of an e-mail "
            "address matters (its SHA-1 is taken as sent), so give it as the LMS sends it."
        ),
        (
            "The key is HMAC-SHA256 with SKILLSTREAM_LEARNER_KEY_SECRET, so run this with the "
            "secret of the deployment you query (a warning says when the built-in default is "
            "in use). Needs no broker and no database; the identifier is not stored or sent. "
            "Exit 2 for an identifier in none of these forms."
        ),
        (
            "[bold]Examples[/]: skillstream learner-key ada@example.com | skillstream "
            "learner-key 'https://lms.example.com|u00042' --json | skillstream learner-key "
            '\'{"mbox": "mailto:ada@example.com"}\' | curl -u lms:change-me '
            "http://127.0.0.1:8080/learners/$(skillstream learner-key ada@example.com)/profile"
        ),
    )
)


def _refused(why: str) -> UsageError:
    return UsageError(f"IFI names no learner: {why}. Accepted: {'; '.join(FORMS)}")


def _uses_default_secret(settings: Settings) -> bool:
    default: Any = Settings.model_fields["learner_key_secret"].default
    return bool(settings.learner_key_secret.get_secret_value() == default.get_secret_value())


def register(app: typer.Typer) -> None:
    @app.command("learner-key", help=LEARNER_KEY_HELP)
    def learner_key(
        ifi: str = typer.Argument(
            ...,
            metavar="IFI",
            help="E-mail address, mbox_sha1sum, openid URL, HOMEPAGE|NAME or a JSON Agent.",
        ),
        as_json: bool = typer.Option(
            False,
            "--json",
            help='Print {"ifi": <mbox|mbox_sha1sum|openid|account>, "learner": KEY}.',
        ),
    ) -> None:
        settings = load_settings()
        if is_learner_key(ifi.strip()):
            raise UsageError(
                "IFI is already a learner key: query with it as it is (GET /learners/KEY/profile)"
            )
        try:
            found = learner_for_ifi(ifi, settings.learner_secret_bytes)
        except InvalidAgent as exc:
            raise _refused(str(exc)) from None
        if _uses_default_secret(settings):
            err.print(
                "[yellow]warning:[/] SKILLSTREAM_LEARNER_KEY_SECRET is the built-in default: "
                "this key differs from the one a deployment with its own secret gives this "
                "learner",
                highlight=False,
            )
        if as_json:
            typer.echo(json.dumps({"ifi": found.ifi, "learner": found.learner}))
        else:
            typer.echo(found.learner)
