"""Clients that own a connection pool or threads that outlive the call that made them.

Each is meant to be made once per process and shared (the libraries' own documentation says
so). Made per request and never closed, each outlives the request: a SQLAlchemy engine's pool
and its connection records refer to each other, a botocore client is wired to its event
emitter, a Celery app to its ``amqp`` helper — cycles that only the cyclic garbage collector
breaks, with their connections open until it runs — and a MongoDB client or a Cassandra
cluster runs threads of its own.

Not listed, on purpose: a Redis client, a requests session and an httpx client made per call
are freed by reference counting as soon as the function returns (no cycle keeps them), and they
close their sockets when freed (redis-py's ``Redis.__del__`` disconnects its own pool): a
connection per call is a cost, not a leak. (FLK401 reports a requests session never closed.)
"""

from __future__ import annotations

import ast

from ..astutil import dotted_name

ENGINE = "SQLAlchemy engine"
BOTO3 = "boto3 client"
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
    **dict.fromkeys(("boto3.client", "boto3.resource"), BOTO3),
    **dict.fromkeys(("pymongo.MongoClient", "pymongo.mongo_client.MongoClient",
                     "motor.motor_asyncio.AsyncIOMotorClient"), MONGO),
    "cassandra.cluster.Cluster": CASSANDRA,
    "celery.Celery": CELERY,
}
# Methods that give a client's connections (and threads) back.
RELEASE_METHODS = frozenset({"close", "aclose", "dispose", "shutdown", "disconnect"})
# What one left to the garbage collector holds on to, per kind.
LEFT_BEHIND = {
    ENGINE: "its own connection pool, whose connections stay open until the garbage collector "
    "frees the engine",
    BOTO3: "its own connection pool and a copy of the service model and endpoint data (memory "
    "that grows with every client made, boto/boto3#1670)",
    MONGO: "its own connection pool and background monitor threads, until it is closed or "
    "garbage collected",
    CASSANDRA: "its control connection, per-host pools and event-loop thread until "
    "`shutdown()`",
    CELERY: "its broker connection and producer pools until the garbage collector frees it",
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
