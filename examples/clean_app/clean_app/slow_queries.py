"""Slow query logging with SQLAlchemy cursor events: nothing is recorded per request."""
import logging
import time

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

DEFAULT_SLOW_QUERY_SECONDS = 0.5


@event.listens_for(Engine, "before_cursor_execute")
def _start_query_timer(conn, cursor, statement, parameters, context, executemany):
    conn.info.setdefault("query_start_time", []).append(time.perf_counter())


@event.listens_for(Engine, "after_cursor_execute")
def _log_slow_query(conn, cursor, statement, parameters, context, executemany):
    duration = time.perf_counter() - conn.info["query_start_time"].pop()
    threshold = DEFAULT_SLOW_QUERY_SECONDS
    if has_app_context():
        threshold = current_app.config.get("SLOW_QUERY_SECONDS", threshold)
    if duration >= threshold:
        logger.warning("SLOW QUERY (%.3fs): %s | params: %r", duration, statement, parameters)


def init_app(app):
    app.config.setdefault("SLOW_QUERY_SECONDS", DEFAULT_SLOW_QUERY_SECONDS)
