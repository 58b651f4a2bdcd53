"""HTTP Basic authentication with the one LMS credential in the settings.

Every statement and learner endpoint needs it (``/healthz``, ``/metrics``,
``/xapi/about`` and the API docs do not). Both the user name and the password
are compared in constant time, and both always are, so the answer time says
nothing about which one was wrong or how much of it matched. A refusal is 401
with ``WWW-Authenticate: Basic realm="skillstream"`` and never says which part
was wrong.
"""

from __future__ import annotations

import binascii
import hmac
from base64 import b64decode
from collections.abc import Awaitable, Callable
from typing import Final

from fastapi import HTTPException, Security
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import HTTPConnection

from skillstream.settings import Settings

REALM: Final = "skillstream"
CHALLENGE: Final = {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'}


class Utf8Basic(HTTPBasic):
    """FastAPI's HTTP Basic scheme (same OpenAPI entry), decoding the credentials as UTF-8.

    FastAPI's own decodes them as ASCII, so a non-ASCII password could never log in.
    Answers None when there is no Basic authorization; raises 401 when it cannot be read.
    """

    def make_authenticate_headers(self) -> dict[str, str]:
        return dict(CHALLENGE)

    async def __call__(  # type: ignore[override]
        self, request: HTTPConnection
    ) -> HTTPBasicCredentials | None:
        authorization = request.headers.get("Authorization")
        scheme, param = get_authorization_scheme_param(authorization)
        if not authorization or scheme.lower() != "basic":
            return None
        try:
            data = b64decode(param, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise self.make_not_authenticated_error() from exc
        username, separator, password = data.partition(":")
        if not separator:
            raise self.make_not_authenticated_error()
        return HTTPBasicCredentials(username=username, password=password)


basic = Utf8Basic(
    scheme_name="HTTPBasic",
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
