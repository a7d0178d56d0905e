"""Clients that own a connection pool, sockets or threads: what makes one, what releases it.

Each is meant to be made once per process and shared (the libraries' own documentation says
so): made per request and never closed, each leaves its pool — and for some, threads — to the
garbage collector.
"""

from __future__ import annotations

import ast

from ..astutil import dotted_name

ENGINE = "SQLAlchemy engine"
HTTP_SESSION = "requests session"
HTTPX_CLIENT = "httpx client"
BOTO3 = "boto3 client"
REDIS = "Redis client"
MONGO = "MongoDB client"
CASSANDRA = "Cassandra cluster"
CELERY = "Celery app"


def _names(prefixes: tuple[str, ...], names: tuple[str, ...]) -> dict[str, None]:
    return {f"{prefix}.{name}": None for prefix in prefixes for name in names}


# Qualified constructor -> what it makes.
CONSTRUCTORS: dict[str, str] = {
    **dict.fromkeys(_names(("sqlalchemy", "sqlalchemy.engine"),
                           ("create_engine", "engine_from_config")), ENGINE),
    **dict.fromkeys(_names(("sqlalchemy.ext.asyncio",), ("create_async_engine",)), ENGINE),
    **dict.fromkeys(("requests.Session", "requests.session", "requests.sessions.Session"),
                    HTTP_SESSION),
    **dict.fromkeys(("httpx.Client", "httpx.AsyncClient"), HTTPX_CLIENT),
    **dict.fromkeys(("boto3.client", "boto3.resource", "boto3.Session",
                     "boto3.session.Session"), BOTO3),
    **dict.fromkeys(_names(("redis", "redis.client", "redis.asyncio", "redis.asyncio.client"),
                           ("Redis", "StrictRedis", "from_url", "Redis.from_url",
                            "StrictRedis.from_url")), REDIS),
    **dict.fromkeys(("pymongo.MongoClient", "pymongo.mongo_client.MongoClient",
                     "motor.motor_asyncio.AsyncIOMotorClient"), MONGO),
    "cassandra.cluster.Cluster": CASSANDRA,
    "celery.Celery": CELERY,
}
# Methods that give a client's connections (and threads) back.
RELEASE_METHODS = frozenset({"close", "aclose", "dispose", "shutdown", "disconnect"})
# What one left to the garbage collector holds on to, per kind.
LEFT_BEHIND = {
    ENGINE: "its own connection pool, whose connections stay open until the engine is "
    "garbage collected",
    HTTP_SESSION: "its own connection pool, whose sockets stay open until it is garbage "
    "collected",
    HTTPX_CLIENT: "its own connection pool, whose sockets stay open until it is garbage "
    "collected",
    BOTO3: "its own connection pool and a copy of the service model and endpoint data "
    "(memory that grows with every client made, boto/boto3#1670)",
    REDIS: "its own connection pool, whose connections stay open until it is garbage "
    "collected",
    MONGO: "its own connection pool and background monitor threads, until it is closed or "
    "garbage collected",
    CASSANDRA: "its control connection, per-host pools and event-loop thread until "
    "`shutdown()`",
    CELERY: "its broker connection and producer pools",
}


def client_kind(model, call: ast.Call) -> str | None:
    return CONSTRUCTORS.get(model.imports.qualified_name(call.func) or "")


def releases_client(call: ast.Call, names: frozenset) -> bool:
    """``client.close()``, ``engine.dispose()``, ``cluster.shutdown()``,
    ``r.connection_pool.disconnect()`` on a name bound to the client."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in RELEASE_METHODS:
        return False
    head = (dotted_name(func.value) or "").split(".")[0]
    return head in names
