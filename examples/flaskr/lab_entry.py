"""The lab's entry to flaskr (vendored unchanged beside this file): ``lab_entry:create_app()``.

flaskr keeps its posts in a SQLite file in its instance folder, which is
inside the installed package's prefix and, in the lab's containers, on a
read-only filesystem, where flaskr's factory cannot even create the folder.
This factory gives flaskr an instance folder in the writable data folder
``LAB_APP_DATA`` (natively, the temporary folder without it), points its
``DATABASE`` there, and creates and fills the database once, whichever worker
of whichever server gets there first, so that the index page has posts to read.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import sqlite3
import tempfile
from pathlib import Path

import flaskr
from flask import Flask
from flaskr.db import get_db, init_db
from werkzeug.security import generate_password_hash

#: The writable folder the lab offers an app that keeps state.
DATA_ENV = "LAB_APP_DATA"
#: Posts on the index page: enough that rendering it is real template work.
POSTS = 20


def _fill(app: Flask) -> None:
    with app.app_context():
        init_db()
        db = get_db()
        db.execute("INSERT INTO user (username, password) VALUES (?, ?)", ("lab", generate_password_hash("lab")))
        db.executemany(
            "INSERT INTO post (title, body, author_id) VALUES (?, ?, 1)",
            [(f"Post {n}", f"The body of post {n}. " * 10) for n in range(1, POSTS + 1)],
        )
        db.commit()


def _filled(database: Path) -> bool:
    if not database.is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(database)) as connection:
            return connection.execute("SELECT count(*) FROM post").fetchone()[0] > 0
    except sqlite3.Error:  # an empty file, or one without flaskr's tables
        return False


def create_app() -> Flask:
    data = Path(os.environ.get(DATA_ENV) or tempfile.gettempdir())
    database = data / "flaskr.sqlite"
    # flaskr builds its Flask object itself: hand it the instance_path
    # argument for that one call (Flask's own way to move the folder), and
    # its database through flaskr's test hook, which replaces its instance config.
    flaskr.Flask = functools.partial(Flask, instance_path=str(data / "flaskr-instance"))
    try:
        app = flaskr.create_app({"DATABASE": str(database)})
    finally:
        flaskr.Flask = Flask
    # Every worker of every server runs this: one fills the file, under a lock.
    with open(data / "flaskr.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _filled(database):
            _fill(app)
    return app
