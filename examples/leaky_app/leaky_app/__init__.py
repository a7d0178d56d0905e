"""leaky_app: a small shop API, written the way many real services drift into leaking."""
import os

from flask import Flask

from . import glogger, slow_queries
from .api import api_bp
from .config import config_by_name
from .extensions import db
from .reports import reports_bp


def create_app(config_name=None):
    config_name = config_name or os.environ.get("APP_ENV", "production")
    app = Flask(__name__)
    app.config.from_object(config_by_name[config_name])

    db.init_app(app)
    glogger.init_app(app)
    slow_queries.init_app(app)

    app.register_blueprint(api_bp)
    app.register_blueprint(reports_bp, url_prefix="/reports")

    @app.teardown_appcontext
    def shutdown_session(exception=None):
        if exception is None:
            db.session.commit()  # FLK103 FLK201
        db.session.remove()

    return app
