"""Slow query logging, run after every request."""
import logging

from flask import current_app, request
from flask_sqlalchemy import get_debug_queries

logger = logging.getLogger(__name__)


def log_slow_db_query(min_time=0):
    """Logs slow database queries; called from the after_request hook for EVERY request."""
    if not request.environ.get("query_logged"):
        for query in get_debug_queries():  # FLK102
            if query.duration >= min_time:
                logger.warning(
                    "SLOW QUERY: {statement} | Duration: {duration}s | "
                    "Params: {params} | Context: {context}".format(
                        statement=query.statement,
                        duration=query.duration,
                        params=query.parameters,
                        context=query.context,
                    )
                )
        request.environ["query_logged"] = True


def init_app(app):
    @app.after_request
    def after_request(response):
        log_slow_db_query(min_time=current_app.config["DATABASE_QUERY_TIMEOUT"])
        return response
