"""The test PostgreSQL server (tests/pgserver.py) starts on loopback, keeps Vietnamese text
intact through SQLAlchemy, and is gone after stop()."""

from __future__ import annotations

import socket

import pytest

from pgserver import PostgresServer

pytestmark = pytest.mark.slow


def test_postgres_server_round_trips_vietnamese_text(tmp_path):
    import sqlalchemy
    server = PostgresServer(tmp_path)
    server.start()
    try:
        engine = sqlalchemy.create_engine(server.url)
        title = "Địa chí Hải Dương"
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("CREATE TABLE books (id serial PRIMARY KEY, title text NOT NULL)"))
            conn.execute(sqlalchemy.text("INSERT INTO books (title) VALUES (:title)"), {"title": title})
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT title FROM books")).scalar_one() == title
            assert conn.execute(sqlalchemy.text("SELECT current_user, current_database()")).one() == (
                "digitize", "digitize")
            assert conn.execute(sqlalchemy.text("SHOW server_encoding")).scalar_one() == "UTF8"
        engine.dispose()
    finally:
        server.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=2):
        pass
