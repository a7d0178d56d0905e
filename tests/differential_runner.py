"""Run one differential case's app (or Gunicorn config) and print what it did, as JSON.

    python differential_runner.py CASE_DIRECTORY

Run in a fresh copy of the case (its own working directory, so its SQLite files and written
files are its own), with outgoing network blocked. The case's ``scenario.json`` says:

* ``setup``: SQL statements per SQLite file, and ``files``: files to write, before the app is
  imported;
* ``module`` (default ``app``) and ``app`` (default ``app``: a module attribute) or
  ``factory`` with ``factory_kwargs``: how to get the Flask app;
* ``requests``: ``[method, path, {"headers": {...}, "json": ...}]``, made in order with
  Flask's test client on this thread;
* ``gunicorn_config``: instead of an app, a Gunicorn config file to execute; its settings
  are the result;
* ``emulate``: ``"sqlalchemy-1.3"`` takes ``with`` away from ``Session``, as SQLAlchemy 1.3
  had it.

What is printed: the import outcome, each response (status and body) or the exception that
left the app, the rows of every SQLite table, the log records, the files the app wrote, and
the settings of a Gunicorn config. Background threads are joined before the side effects are
read.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import socket
import sqlite3
import sys
import threading
from pathlib import Path


def block_network() -> None:
    def refuse(self, address, *arguments, **keywords):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError("network blocked by the differential runner")
        return connect(self, address, *arguments, **keywords)

    connect = socket.socket.connect
    socket.socket.connect = refuse


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.seen: list[list[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("werkzeug", "sqlalchemy", "asyncio")):
            return
        line = [record.levelname, record.getMessage()]
        if record.exc_info and record.exc_info[0] is not None:
            line.append(record.exc_info[0].__name__)
        self.seen.append(line)


def emulate_sqlalchemy_13() -> None:
    from sqlalchemy.orm import Session

    del Session.__enter__
    del Session.__exit__


def tables() -> dict:
    found = {}
    for path in sorted(Path(".").glob("*.db")):
        connection = sqlite3.connect(path)
        try:
            names = [row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )]
            found[path.name] = {
                name: [list(row) for row in connection.execute(f'SELECT * FROM "{name}"')]
                for name in names
            }
        finally:
            connection.close()
    return found


def written_files(before: set[str]) -> dict:
    return {
        path.name: path.read_text(errors="replace")
        for path in sorted(Path(".").iterdir())
        if path.is_file() and path.name not in before and path.suffix not in (".db", ".py", ".json")
    }


def gunicorn_settings(path: str) -> dict:
    namespace: dict = {"__file__": path, "__name__": "__config__"}
    code = compile(Path(path).read_text(), path, "exec")
    exec(code, namespace)  # noqa: S102 - the case's own Gunicorn config, in its own process
    return {
        key: value for key, value in sorted(namespace.items())
        if not key.startswith("_") and isinstance(value, (int, float, str, bool, type(None)))
    }


def run(scenario: dict) -> dict:
    result: dict = {}
    for name, content in scenario.get("files", {}).items():
        Path(name).write_text(content)
    for database, statements in scenario.get("setup", {}).items():
        connection = sqlite3.connect(database)
        connection.executescript(";\n".join(statements) + ";")
        connection.commit()
        connection.close()
    if scenario.get("emulate") == "sqlalchemy-1.3":
        emulate_sqlalchemy_13()
    if "gunicorn_config" in scenario:
        try:
            result["settings"] = gunicorn_settings(scenario["gunicorn_config"])
        except Exception as error:  # the config itself failing is what the case compares
            result["settings"] = f"{type(error).__name__}: {error}"
        return result
    records = Records()
    logging.getLogger().addHandler(records)
    logging.getLogger().setLevel(logging.DEBUG)
    existing = {path.name for path in Path(".").iterdir()}
    try:
        module = importlib.import_module(scenario.get("module", "app"))
        if "factory" in scenario:
            app = getattr(module, scenario["factory"])(**scenario.get("factory_kwargs", {}))
        else:
            app = getattr(module, scenario.get("app", "app"))
        result["import"] = "ok"
    except Exception as error:
        result["import"] = f"{type(error).__name__}: {error}"
        return result
    client = app.test_client()
    responses = []
    for method, path, *extra in scenario["requests"]:
        options = extra[0] if extra else {}
        try:
            response = client.open(path, method=method, headers=options.get("headers"),
                                   json=options.get("json"))
            responses.append([response.status_code, response.get_data(as_text=True)])
        except Exception as error:  # an exception that leaves the app (a raising teardown)
            responses.append(["exception", type(error).__name__])
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(timeout=10)
    result["responses"] = responses
    result["statuses"] = [response[0] for response in responses]
    result["database"] = tables()
    result["logs"] = records.seen
    result["files"] = written_files(existing)
    return result


def main() -> None:
    directory = Path(sys.argv[1]).resolve()
    os.chdir(directory)
    sys.path.insert(0, str(directory))
    block_network()
    scenario = json.loads((directory / "scenario.json").read_text())
    print(json.dumps(run(scenario), sort_keys=True, default=str))


if __name__ == "__main__":
    main()
