"""clean_app: the leaky_app shop API with every leak-prone pattern written safely."""
import os

from flask import Flask

from . import extensions, glogger, slow_queries
from .api import api_bp
from .config import config_by_name
from .reports import reports_bp


def create_app(config_name=None):
    config_name = config_name or os.environ.get("APP_ENV", "production")
    app = Flask(__name__)
    app.config.from_object(config_by_name[config_name])

    extensions.init_app(app)
    glogger.init_app(app)
    slow_queries.init_app(app)

    app.register_blueprint(api_bp)
    app.register_blueprint(reports_bp, url_prefix="/reports")
    return app
