"""ORM models."""
from .extensions import db


class Product(db.Model):
    __tablename__ = "products"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
    price = db.Column(db.Numeric(10, 2), nullable=False)


class Export(db.Model):
    __tablename__ = "exports"

    id = db.Column(db.String(32), primary_key=True)
    status = db.Column(db.String(20), nullable=False, default="pending")
    path = db.Column(db.String(400))
