"""Structured request logging: one structlog logger per request, kept per worker thread.

Gunicorn's gthread workers reuse their threads, so the thread-local is emptied in
teardown_request; the logger is bound to plain values copied from the request, never
to the request object itself.
"""
import logging
import threading
import uuid
from functools import wraps

import structlog
from flask import request

_local = threading.local()
logger = logging.getLogger(__name__)


def new_logger(**context):
    trace_id = request.headers.get("X-Trace-Id") or uuid.uuid4().hex
    _local.trace_id = trace_id
    _local.logger = structlog.get_logger("clean_app.request").bind(trace_id=trace_id, **context)
    return _local.logger


def get_struct_logger():
    bound = getattr(_local, "logger", None)
    return bound if bound is not None else new_logger()


def attach_logger(func):
    """Attach glogger to the request instance."""

    @wraps(func)
    def wrapped(*args, **kwargs):
        if not hasattr(request, "logger"):
            request.logger = get_struct_logger()
        return func(*args, **kwargs)

    return wrapped


def initialize_logger(**kwargs):
    new_logger(**kwargs)


def init_app(app):
    @app.before_request
    def bind_request_logger():
        initialize_logger(
            endpoint=request.endpoint,
            method=request.method,
            path=request.path,
            user_id=request.headers.get("X-User-Id"),
        )

    @app.teardown_request
    def clear_request_logger(exception=None):
        try:
            _local.__dict__.clear()
        except Exception:
            logger.exception("could not clear the request logger")
