"""Structured request logging: one structlog logger per request, kept per worker thread.

Gunicorn's gthread workers reuse their threads, so everything stored on ``_local`` stays
there until the same thread overwrites it on a later request.
"""
import logging
import threading
import uuid
from functools import wraps

import structlog
from flask import request

_local = threading.local()


class RequestLogSchemaAdapter(logging.LoggerAdapter):
    """Adds the request's trace id, route and user to every log line."""

    def __init__(self, logger, flask_request, trace_id):
        super().__init__(logger, {"trace_id": trace_id})
        self.request = flask_request

    def process(self, msg, kwargs):
        extra = dict(self.extra)
        extra["path"] = self.request.path
        extra["method"] = self.request.method
        extra["user_id"] = self.request.headers.get("X-User-Id")
        kwargs.setdefault("extra", {}).update(extra)
        return msg, kwargs


def new_logger(**context):
    trace_id = request.headers.get("X-Trace-Id") or uuid.uuid4().hex
    logger = structlog.get_logger("leaky_app.request").bind(**context)
    _local.trace_id = trace_id  # FLK203
    adapter = RequestLogSchemaAdapter(logger, request._get_current_object(), trace_id)
    _local.logger = adapter  # FLK203 FLK303
    return _local.logger


def get_struct_logger():
    logger = getattr(_local, "logger", None)
    return logger if logger is not None else new_logger()


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
        initialize_logger(endpoint=request.endpoint, remote_addr=request.remote_addr)
