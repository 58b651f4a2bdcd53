"""``skillstream serve``: run the HTTP front door (xAPI Statement API and learner queries)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any, Final

import typer

from skillstream.errors import UsageError
from skillstream.settings import Settings

DEFAULTED: Final = {
    "http_password": "SKILLSTREAM_HTTP_PASSWORD",
    "learner_key_secret": "SKILLSTREAM_LEARNER_KEY_SECRET",
}
"""Settings whose built-in default is public (it is in this source): never on a network."""

SERVE_HELP = "\n\n".join(
    (
        "Run the HTTP front door: LMS platforms send xAPI statements over HTTP, and "
        "profiles and milestones are read back.",
        (
            "[bold]Statements[/] (xAPI Statement API, 1.0.3 and 2.0): POST /xapi/statements "
            "(one statement or an array; answers the JSON array of ids) and PUT "
            "/xapi/statements?statementId=ID (answers 204). The header "
            "X-Experience-API-Version (1.0.x or 2.0.x) is required. Every statement is "
            "validated; one invalid statement refuses the whole batch with 400 listing every "
            "problem (index, JSON path, message, code). Accepted statements are produced to "
            "the statements topic and acknowledged by all in-sync replicas before the answer; "
            "503 names the broker when Kafka does not acknowledge. Attachments come as "
            "multipart/mixed parts (hashed and checked, not stored)."
        ),
        (
            "[bold]Queries[/]: GET /learners/KEY/profile and GET /learners/KEY/milestones "
            "(or /learners/profile?agent=… and /learners/milestones?agent=… with an xAPI "
            "Agent, hashed server-side; `skillstream learner-key` prints a KEY), read from the SQL sink's database (SKILLSTREAM_DATABASE_URL), which lags the "
            "stream by the sink's batch interval. [bold]Operations[/]: GET /healthz (Kafka and "
            "the database), GET /metrics (Prometheus), API docs at /docs."
        ),
        (
            "[bold]Auth[/]: HTTP Basic with SKILLSTREAM_HTTP_USERNAME and "
            "SKILLSTREAM_HTTP_PASSWORD (defaults lms / change-me, for a laptop) on statements "
            "and queries; /healthz, /metrics, /xapi/about and /docs are open. On any address "
            "but loopback (127.0.0.1, ::1, localhost) serve refuses to start (exit 2) while "
            "SKILLSTREAM_HTTP_PASSWORD or SKILLSTREAM_LEARNER_KEY_SECRET is the built-in "
            "default, unless --allow-default-credentials (a throwaway demo) is given."
        ),
        (
            "[bold]Limits[/]: at most --max-statements statements per request (413 above, "
            "before any is validated) and 16 MiB per body; a 400 lists at most 100 problems. "
            "A connection must send its request head within --header-timeout seconds and its "
            "body within --body-timeout seconds (408), else it is closed."
        ),
        (
            "[bold]Example[/]: curl -u lms:change-me -H 'X-Experience-API-Version: 2.0.0' "
            '-H \'Content-Type: application/json\' -d \'{"actor": {"mbox": '
            '"mailto:ada@example.com"}, "verb": {"id": '
            '"http://adlnet.gov/expapi/verbs/completed"}, "object": {"id": '
            '"https://lms.example.com/courses/kafka-101"}}\' '
            "http://127.0.0.1:8080/xapi/statements"
        ),
        (
            "Listens on SKILLSTREAM_HTTP_HOST:SKILLSTREAM_HTTP_PORT (127.0.0.1:8080) unless "
            "--host/--port say otherwise; logs one line per request "
            "(SKILLSTREAM_LOG_FORMAT=json for JSON). Missing topics are created first. "
            "Exit 2: default credentials on a non-loopback address. Exit 3: Kafka cannot be "
            "reached at start. Guide: docs/frontdoor.md."
        ),
    )
)


def register(app: typer.Typer) -> None:
    @app.command("serve", help=SERVE_HELP)
    def serve(
        host: str | None = typer.Option(
            None, "--host", help="Address to listen on (default: SKILLSTREAM_HTTP_HOST)."
        ),
        port: int | None = typer.Option(
            None, "--port", min=1, max=65535, help="Port (default: SKILLSTREAM_HTTP_PORT)."
        ),
        publish_timeout: float = typer.Option(
            10.0,
            "--publish-timeout",
            min=0.5,
            help="Seconds to wait for Kafka's acknowledgement before answering 503.",
        ),
        max_statements: int = typer.Option(
            10_000,
            "--max-statements",
            min=1,
            max=1_000_000,
            help="Most statements (and attachment parts) one request may hold; 413 above.",
        ),
        header_timeout: float = typer.Option(
            10.0,
            "--header-timeout",
            min=0.1,
            help="Seconds a connection has to send a request head; closed after that.",
        ),
        body_timeout: float = typer.Option(
            60.0,
            "--body-timeout",
            min=0.1,
            help="Seconds a request has to send its body once it is read; 408 after that.",
        ),
        allow_default_credentials: bool = typer.Option(
            False,
            "--allow-default-credentials",
            help=(
                "Listen on a non-loopback address even with the built-in password or "
                "learner-key secret (a throwaway demo only; a warning is printed)."
            ),
        ),
    ) -> None:
        from skillstream.kafka_io import check_kafka
        from skillstream.logs import setup_logging
        from skillstream.settings import load_settings

        settings = load_settings()
        chosen = host or settings.http_host
        defaulted = [] if is_loopback(chosen) else defaulted_secrets(settings)
        if defaulted and not allow_default_credentials:
            raise UsageError(refusal(chosen, defaulted))
        setup_logging(settings)
        if defaulted:
            _warn(settings, warning(chosen, defaulted))
        check_kafka(settings)
        asyncio.run(
            _serve(
                settings,
                chosen,
                port or settings.http_port,
                publish_timeout,
                max_statements=max_statements,
                header_timeout_s=header_timeout,
                body_timeout_s=body_timeout,
            )
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``: only this
    machine can connect. Any other name or address (0.0.0.0 and :: included) is not."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def defaulted_secrets(settings: Settings) -> list[str]:
    """The variables of :data:`DEFAULTED` whose value is still the built-in default."""
    out = []
    for field, variable in DEFAULTED.items():
        default: Any = Settings.model_fields[field].default
        if getattr(settings, field).get_secret_value() == default.get_secret_value():
            out.append(variable)
    return out


def refusal(host: str, variables: list[str]) -> str:
    """The one line ``serve`` exits 2 with when a public default would face the network."""
    named = " and ".join(variables)
    return (
        f"refusing to listen on {host}, a non-loopback address, while {named} "
        f"{'is the built-in default' if len(variables) == 1 else 'are the built-in defaults'}, "
        "which anyone can read "
        f"in skillstream's source: set {named} to values of your own (the learner-key secret "
        "must be the same for every skillstream process), or listen on 127.0.0.1, or pass "
        "--allow-default-credentials for a throwaway demo"
    )


def warning(host: str, variables: list[str]) -> str:
    """What ``serve --allow-default-credentials`` prints (and logs) on a non-loopback address."""
    return (
        f"listening on {host} with the built-in {' and '.join(variables)} "
        "(--allow-default-credentials): anyone who can reach this port can send statements "
        "and read learners' profiles; never do this outside a throwaway demo"
    )


def _warn(settings: Settings, message: str) -> None:
    """A loud line on stderr: red for a person, a WARNING record for a JSON log reader."""
    if settings.log_format == "json":
        logging.getLogger("skillstream.frontdoor").warning(message)
        return
    from skillstream.cli import err

    err.print(f"[bold red]WARNING:[/] {message}", highlight=False)


async def _serve(
    settings: Settings,
    host: str,
    port: int,
    publish_timeout: float,
    *,
    max_statements: int = 10_000,
    header_timeout_s: float = 10.0,
    body_timeout_s: float = 60.0,
) -> None:
    """Connect to Kafka first (a clear exit 3 if it cannot), then serve until a signal."""
    import uvicorn

    from skillstream.frontdoor import create_app
    from skillstream.frontdoor.publisher import KafkaPublisher
    from skillstream.frontdoor.server import server_config
    from skillstream.topics import create_topics

    await create_topics(settings.kafka, settings.topics)
    publisher = KafkaPublisher(
        settings.kafka, settings.topics.statements, timeout_s=publish_timeout
    )
    await publisher.start()
    try:
        app = create_app(
            settings,
            publisher=publisher,
            publish_timeout_s=publish_timeout,
            max_statements=max_statements,
            body_timeout_s=body_timeout_s,
        )
        config = server_config(app, host, port, header_timeout_s=header_timeout_s)
        await uvicorn.Server(config).serve()
    finally:
        await publisher.stop()
