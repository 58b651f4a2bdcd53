"""HTTP Basic authentication with the one LMS credential in the settings.

Every statement and learner endpoint needs it (``/healthz``, ``/metrics``,
``/xapi/about`` and the API docs do not). Both the user name and the password
are compared in constant time, and both always are, so the answer time says
nothing about which one was wrong or how much of it matched. A refusal is 401
with ``WWW-Authenticate: Basic realm="skillstream"`` and never says which part
was wrong.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Final

from fastapi import HTTPException, Security
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from skillstream.settings import Settings

REALM: Final = "skillstream"
CHALLENGE: Final = {"WWW-Authenticate": f'Basic realm="{REALM}"'}

basic = HTTPBasic(
    auto_error=False,
    realm=REALM,
    description="The LMS credential: SKILLSTREAM_HTTP_USERNAME / SKILLSTREAM_HTTP_PASSWORD.",
)


_CREDENTIALS: Final = Security(basic)


def credentials_match(given: HTTPBasicCredentials, username: bytes, password: bytes) -> bool:
    """True when both parts match; always compares both, each in constant time."""
    user_ok = hmac.compare_digest(given.username.encode("utf-8"), username)
    password_ok = hmac.compare_digest(given.password.encode("utf-8"), password)
    return user_ok & password_ok


def require_lms(settings: Settings) -> Callable[[HTTPBasicCredentials | None], Awaitable[str]]:
    """A FastAPI dependency that admits the configured LMS credential and nothing else."""
    username = settings.http_username.encode("utf-8")
    password = settings.http_password.get_secret_value().encode("utf-8")

    async def dependency(given: HTTPBasicCredentials | None = _CREDENTIALS) -> str:
        if given is None:
            raise HTTPException(
                401, "authentication required: HTTP Basic with the LMS credential", CHALLENGE
            )
        if not credentials_match(given, username, password):
            raise HTTPException(401, "the user name or password is wrong", CHALLENGE)
        return given.username

    return dependency
