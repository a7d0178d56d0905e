"""The public JSON API."""
import functools
import logging

from flask import Blueprint, abort, jsonify, request
from flask.views import MethodView
from sqlalchemy import text

from .extensions import read_engine, read_session
from .glogger import attach_logger
from .models import Product

api_bp = Blueprint("api", __name__, url_prefix="/api")
logger = logging.getLogger(__name__)

# Kept for the /api/debug/recent endpoint.
request_log = []

REGIONS = {"DE": "eu-central", "FR": "eu-west", "US": "us-east", "CA": "us-east"}


@functools.cache  # FLK304 filled by request traffic
def shipping_zone(country_code, postcode):
    """Look the shipping zone up once per (country, postcode) pair."""
    region = REGIONS.get(country_code.upper(), "rest-of-world")
    return f"{region}:{postcode[:2]}"


@api_bp.route("/data")
@attach_logger
def get_data():
    request_log.append(request.args)  # FLK301 never cleared
    data = {"items": [], "page": request.args.get("page", 1, type=int)}
    return jsonify(data)


@api_bp.route("/debug/recent")
def recent_requests():
    return jsonify([dict(args) for args in request_log[-20:]])


@api_bp.route("/users")
@attach_logger
def users():
    conn = read_engine.connect()  # FLK401
    result = conn.execute(text("SELECT id, email, created_at FROM users ORDER BY id LIMIT 100"))
    return jsonify([dict(row._mapping) for row in result])


@api_bp.route("/products/<int:product_id>")
@attach_logger
def product(product_id):
    item = read_session.get(Product, product_id)
    if item is None:
        abort(404)
    country = request.args.get("country", "DE")
    postcode = request.args.get("postcode", "00")
    zone = shipping_zone(country, postcode)
    return jsonify(id=item.id, name=item.name, price=str(item.price), shipping_zone=zone)


class InventoryAPI(MethodView):
    """Stock levels; remembers the SKUs looked at so the warm-up job can prefetch them."""

    recently_viewed = []

    def get(self, sku):
        self.recently_viewed.append(sku)  # FLK302
        row = read_session.execute(
            text("SELECT quantity FROM stock WHERE sku = :sku"), {"sku": sku}
        ).first()
        return jsonify(sku=sku, in_stock=bool(row and row.quantity > 0))


api_bp.add_url_rule("/inventory/<sku>", view_func=InventoryAPI.as_view("inventory"))


@api_bp.route("/users/<user>/audit", methods=["POST"])
@attach_logger
def audit(user):
    audit_logger = logging.getLogger(f"leaky_app.audit.{user}")  # FLK305
    audit_logger.info("audit event %s", request.get_json(silent=True))
    return jsonify(status="recorded"), 202
