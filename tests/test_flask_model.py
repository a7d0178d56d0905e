"""The shared per-file Flask model: what is an app, what runs per request, and from where."""

from __future__ import annotations

import ast
import textwrap

from flake8_flaskleak.options import Options
from flake8_flaskleak.model.file import FileModel


def file_model(source: str, path: str = "app.py", **options) -> FileModel:
    text = textwrap.dedent(source)
    return FileModel(ast.parse(text), text, path, Options(**options))


def model(source: str, path: str = "app.py", **options):
    return file_model(source, path, **options).flask


def request_names(flask_model) -> dict[str, str]:
    return {fn.name: reach.describe() for fn, reach in flask_model.request_time.items()}


def test_routes_hooks_and_helpers_are_request_time_with_their_entry_point():
    m = model(
        """
        from flask import Flask, request
        import flask as f

        app = f.Flask(__name__)
        request_log = []

        def log_event(payload):
            record(payload)

        def record(payload):
            request_log.append(payload)

        @app.route("/api/data")
        def get_data():
            log_event(request.args)
            return "ok"

        def startup_only():
            request_log.append("boot")
        """
    )
    names = request_names(m)
    assert set(names) == {"get_data", "log_event", "record"}
    assert names["record"] == "route '/api/data' `get_data` via `log_event` -> `record`"


def test_factory_apps_blueprints_and_call_form_registrations():
    m = model(
        """
        from flask import Blueprint, Flask

        bp = Blueprint("users", __name__)

        @bp.get("/users")
        def list_users():
            return []

        def close_db(exc):
            pass

        def create_app():
            app = Flask(__name__)
            app.teardown_appcontext(close_db)

            @app.before_request
            def load_user():
                pass

            app.add_url_rule("/health", "health", health)
            return app

        def health():
            return "ok"

        application = create_app()
        """
    )
    kinds = {(e.function.name, e.kind) for e in m.entry_points}
    assert kinds == {
        ("list_users", "route"),
        ("close_db", "teardown_appcontext"),
        ("load_user", "before_request"),
        ("health", "route"),
    }
    assert [t.function.name for t in m.teardowns] == ["close_db"]
    assert "create_app" in m.factories
    assert {"bp", "app", "application"} <= m.app_names


def test_class_based_views_and_self_calls():
    m = model(
        """
        from flask.views import MethodView
        from flask_restful import Resource as R

        class UserAPI(MethodView):
            def get(self, user_id):
                return self._load(user_id)

            def _load(self, user_id):
                return user_id

            def unused(self):
                pass

        class Items(R):
            def post(self):
                return {}
        """
    )
    assert set(request_names(m)) == {"get", "_load", "post"}


def test_decorator_wrappers_run_per_request():
    m = model(
        """
        from functools import wraps
        from flask import Blueprint, request

        api = Blueprint("api", __name__)

        def attach_logger(func):
            @wraps(func)
            def wrapped(*args, **kwargs):
                request.logger = object()
                return func(*args, **kwargs)
            return wrapped

        @api.route("/orders")
        @attach_logger
        def orders():
            return []
        """
    )
    assert set(request_names(m)) == {"orders", "wrapped"}


def test_other_frameworks_are_not_flask():
    m = model(
        """
        from fastapi import FastAPI

        app = FastAPI()

        @app.get("/items")
        def items():
            return []
        """
    )
    assert m.entry_points == []


def test_imported_app_used_with_flask_only_hooks_counts():
    m = model(
        """
        from .extensions import app, cache

        @app.teardown_request
        def cleanup(exc):
            pass

        @cache.memoize(60)
        def expensive():
            pass
        """
    )
    assert [(e.function.name, e.kind) for e in m.entry_points] == [("cleanup", "teardown_request")]


def test_background_functions_thread_targets_executors_and_tasks():
    m = model(
        """
        import threading
        from concurrent.futures import ThreadPoolExecutor
        from celery import shared_task

        executor = ThreadPoolExecutor(4)

        def sync_inventory():
            pass

        def send_mail(to):
            pass

        @shared_task
        def nightly_report():
            pass

        def start():
            threading.Thread(target=sync_inventory, daemon=True).start()
            executor.submit(send_mail, "ops@example.com")
        """
    )
    assert {fn.name for fn in m.background} == {"sync_inventory", "send_mail", "nightly_report"}


def test_extra_request_decorators_option():
    m = model(
        """
        from myframework import api_endpoint

        @api_endpoint("/v1/ping")
        def ping():
            pass
        """,
        request_decorators=("api_endpoint",),
    )
    assert set(request_names(m)) == {"ping"}


def test_config_environments():
    configs = file_model(
        """
        import os

        class BaseConfig:
            SQLALCHEMY_TRACK_MODIFICATIONS = False

        class ProductionConfig(BaseConfig):
            SQLALCHEMY_RECORD_QUERIES = True

        class DevConfig(BaseConfig):
            DEBUG = True

        class EnvConfig(BaseConfig):
            DEBUG = os.environ.get("DEBUG")
        """,
        path="config.py",
    ).configs
    environments = {name: klass.environment for name, klass in configs.classes.items()}
    assert environments == {
        "BaseConfig": "unknown",
        "ProductionConfig": "production",
        "DevConfig": "development",
        "EnvConfig": "unknown",
    }
    production = configs.classes["ProductionConfig"]
    assert production.lookup("SQLALCHEMY_TRACK_MODIFICATIONS").owner.name == "BaseConfig"
    assert configs.classes["BaseConfig"].looks_like_base
