"""Extensions and database handles shared by the blueprints."""
import os

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import create_engine
from sqlalchemy.orm import scoped_session, sessionmaker

db = SQLAlchemy()

# Raw SQLAlchemy handles for the reporting queries: writes go to the primary,
# reads to the replica.
write_engine = create_engine(
    os.environ.get("DATABASE_URL", "postgresql://shop@db/shop"),
    pool_size=10,
    pool_pre_ping=True,
)
read_engine = create_engine(
    os.environ.get("DATABASE_READ_URL", "postgresql://shop@db-replica/shop"),
    pool_size=20,
    pool_pre_ping=True,
)

write_session = scoped_session(sessionmaker(bind=write_engine))  # FLK202
read_session = scoped_session(sessionmaker(bind=read_engine))  # FLK202
