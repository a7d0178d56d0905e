"""CSV reports and exports."""
import csv
import os
import threading
import uuid

from flask import Blueprint, current_app, jsonify, request

reports_bp = Blueprint("reports", __name__)

# The request that started the most recent export, for the status page.
last_export_request = None


@reports_bp.route("/download")
def download():
    data = open("large_file.csv").read()  # FLK403
    return data


@reports_bp.route("/imports", methods=["POST"])
def import_prices():
    upload = request.files["file"]
    path = os.path.join(current_app.config["EXPORT_DIR"], f"import-{uuid.uuid4().hex}.csv")
    handle = open(path, "wb")  # FLK402
    upload.save(handle)
    return jsonify(status="queued"), 202


@reports_bp.route("/exports", methods=["POST"])
def start_export():
    global last_export_request
    last_export_request = request  # FLK303
    export_id = uuid.uuid4().hex
    worker = threading.Thread(target=write_export, args=(export_id,), daemon=True)  # FLK404
    worker.start()
    return jsonify(id=export_id), 202


@reports_bp.route("/exports/last")
def last_export():
    if last_export_request is None:
        return jsonify(path=None)
    return jsonify(path=last_export_request.path, args=last_export_request.args)


def write_export(export_id):
    columns = request.args.getlist("column") or ["id", "name", "price"]
    path = os.path.join(current_app.config["EXPORT_DIR"], f"{export_id}.csv")
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
