"""CSV reports and exports."""
import csv
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

from flask import (
    Blueprint,
    copy_current_request_context,
    current_app,
    jsonify,
    request,
    send_file,
    session,
)

reports_bp = Blueprint("reports", __name__)

# One pool for the whole process: a request hands work to it, it never starts threads.
export_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="export")


@reports_bp.route("/download")
def download():
    path = os.path.join(current_app.config["REPORT_DIR"], "large_file.csv")
    return send_file(path, mimetype="text/csv", as_attachment=True)


@reports_bp.route("/imports", methods=["POST"])
def import_prices():
    upload = request.files["file"]
    path = os.path.join(current_app.config["EXPORT_DIR"], f"import-{uuid.uuid4().hex}.csv")
    with open(path, "wb") as handle:
        upload.save(handle)
    return jsonify(status="queued"), 202


@reports_bp.route("/exports", methods=["POST"])
def start_export():
    export_id = uuid.uuid4().hex
    session["last_export_id"] = export_id

    @copy_current_request_context
    def run_export():
        write_export(export_id, request.args.getlist("column"))

    export_executor.submit(run_export)
    return jsonify(id=export_id), 202


@reports_bp.route("/exports/last")
def last_export():
    return jsonify(id=session.get("last_export_id"))


def write_export(export_id, columns):
    columns = columns or ["id", "name", "price"]
    path = os.path.join(current_app.config["EXPORT_DIR"], f"{export_id}.csv")
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
