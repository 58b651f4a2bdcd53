"""Logging: JSON lines for machines (``SKILLSTREAM_LOG_FORMAT=json``) or plain lines for people."""

from __future__ import annotations

import logging.config
from typing import Any

from skillstream.settings import Settings

_QUIET = ("aiokafka", "faust.transport", "mode", "faust.tables", "faust.assignor")


def logging_config(settings: Settings) -> dict[str, Any]:
    if settings.log_format == "json":
        formatter: dict[str, Any] = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    else:
        formatter = {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {name: {"level": "WARNING"} for name in _QUIET} if level != "DEBUG" else {},
    }


def setup_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
