"""The application's own engine, made when its module is first imported, with a pool
(SQLAlchemy's default): env.py borrows it, as many services' env.py files do."""

import os

from sqlalchemy import create_engine

engine = create_engine(os.environ["DATABASE_URL"])
