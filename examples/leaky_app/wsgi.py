"""WSGI entry point: gunicorn -c gunicorn.conf.py wsgi:app"""
from leaky_app import create_app
from leaky_app.extensions import db

app = create_app()

# So that scripts and the shell can use db.session without a context manager.
app.app_context().push()  # FLK104
db.create_all()
