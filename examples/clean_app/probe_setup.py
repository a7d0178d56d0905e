"""Prepare a throwaway SQLite database and report folder for `flaskleak probe` (probe.toml).

The raw engines read the models' tables and two tables another service owns in production
(users, stock): all are created here in the file the probe's environment points them at.
"""
import os

from sqlalchemy import text

from clean_app.extensions import db, write_engine

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT, created_at TEXT)",
    "CREATE TABLE IF NOT EXISTS stock (sku TEXT PRIMARY KEY, quantity INTEGER)",
)


def prepare(app):
    """Called by the probe once, inside an app context."""
    report = os.path.join(app.config["REPORT_DIR"], "large_file.csv")
    with open(report, "w", encoding="utf-8") as handle:
        handle.write("sku,quantity\n" + "".join(f"sku-{n},{n}\n" for n in range(1, 21)))
    db.metadata.create_all(bind=write_engine)
    with write_engine.begin() as conn:
        for statement in SCHEMA:
            conn.execute(text(statement))
        for number in range(1, 21):
            conn.execute(
                text("INSERT INTO users (id, email, created_at) VALUES (:id, :email, '2024-01-01')"),
                {"id": number, "email": f"user{number}@example.com"},
            )
            conn.execute(
                text("INSERT INTO products (id, name, price) VALUES (:id, :name, 9.5)"),
                {"id": number, "name": f"product {number}"},
            )
            conn.execute(
                text("INSERT INTO stock (sku, quantity) VALUES (:sku, :quantity)"),
                {"sku": f"sku-{number}", "quantity": number % 3},
            )
