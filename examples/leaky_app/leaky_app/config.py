"""Configuration classes, selected by APP_ENV in create_app()."""
import os


class BaseConfig:
    SECRET_KEY = os.environ.get("SECRET_KEY", "change-me")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "postgresql://shop@db/shop")
    SQLALCHEMY_BINDS = {
        "read": os.environ.get("DATABASE_READ_URL", "postgresql://shop@db-replica/shop"),
    }
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_COMMIT_ON_TEARDOWN = True  # FLK103
    DATABASE_QUERY_TIMEOUT = 0.5
    EXPORT_DIR = os.environ.get("EXPORT_DIR", "/var/lib/shop/exports")


class DevelopmentConfig(BaseConfig):
    DEBUG = True
    SQLALCHEMY_ECHO = True
    SQLALCHEMY_RECORD_QUERIES = True


class TestingConfig(BaseConfig):
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    SQLALCHEMY_BINDS = {"read": "sqlite://"}


class ProductionConfig(BaseConfig):
    SQLALCHEMY_RECORD_QUERIES = True  # FLK101 enabled for slow query logging
    DATABASE_QUERY_TIMEOUT = 0.05  # 50ms threshold


config_by_name = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
