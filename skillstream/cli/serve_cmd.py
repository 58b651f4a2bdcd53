"""``skillstream serve``: run the HTTP front door (xAPI Statement API and learner queries)."""

from __future__ import annotations

import asyncio

import typer

from skillstream.settings import Settings

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
            "SKILLSTREAM_HTTP_PASSWORD (defaults lms / change-me: change them) on statements "
            "and queries; /healthz, /metrics, /xapi/about and /docs are open."
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
            "Exit 3: Kafka cannot be reached at start. Guide: docs/frontdoor.md."
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
    ) -> None:
        from skillstream.broker import check_reachable
        from skillstream.logs import setup_logging
        from skillstream.settings import load_settings

        settings = load_settings()
        setup_logging(settings)
        check_reachable(settings.kafka.bootstrap_servers)
        asyncio.run(
            _serve(
                settings,
                host or settings.http_host,
                port or settings.http_port,
                publish_timeout,
            )
        )


async def _serve(settings: Settings, host: str, port: int, publish_timeout: float) -> None:
    """Connect to Kafka first (a clear exit 3 if it cannot), then serve until a signal."""
    import uvicorn

    from skillstream.frontdoor import create_app
    from skillstream.frontdoor.publisher import KafkaPublisher
    from skillstream.topics import create_topics

    await create_topics(settings.kafka.bootstrap_servers, settings.topics)
    publisher = KafkaPublisher(
        settings.kafka.bootstrap_servers, settings.topics.statements, timeout_s=publish_timeout
    )
    await publisher.start()
    try:
        app = create_app(settings, publisher=publisher, publish_timeout_s=publish_timeout)
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="on"
        )
        await uvicorn.Server(config).serve()
    finally:
        await publisher.stop()
