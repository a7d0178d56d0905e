"""Configuration classes, selected by APP_ENV in create_app()."""
import os


class BaseConfig:
    SECRET_KEY = os.environ.get("SECRET_KEY", "change-me")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "postgresql://shop@db/shop")
    SQLALCHEMY_BINDS = {
        "read": os.environ.get("DATABASE_READ_URL", "postgresql://shop@db-replica/shop"),
    }
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SLOW_QUERY_SECONDS = float(os.environ.get("SLOW_QUERY_SECONDS", "0.5"))
    EXPORT_DIR = os.environ.get("EXPORT_DIR", "/var/lib/shop/exports")
    REPORT_DIR = os.environ.get("REPORT_DIR", "/var/lib/shop/reports")


class DevelopmentConfig(BaseConfig):
    DEBUG = True
    SQLALCHEMY_ECHO = True
    # Recorded queries are kept per request; fine on a laptop, never in production.
    SQLALCHEMY_RECORD_QUERIES = True


class TestingConfig(BaseConfig):
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    SQLALCHEMY_BINDS = {"read": "sqlite://"}


class ProductionConfig(BaseConfig):
    SQLALCHEMY_RECORD_QUERIES = False
    SLOW_QUERY_SECONDS = float(os.environ.get("SLOW_QUERY_SECONDS", "0.05"))


config_by_name = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
