"""Written for slipway's tests (not upstream): the least of a Flask application that
microblog's Flask-Migrate env.py needs, what `FLASK_APP` names. Its database is the one
DATABASE_URL names, as microblog's own config reads it."""

import os

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
db = SQLAlchemy(app)
Migrate(app, db)
