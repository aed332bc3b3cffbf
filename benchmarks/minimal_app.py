"""The filing benchmark's baseline: Flask + SQLAlchemy with one endpoint that inserts one row.

``BENCH_DATABASE_URL=postgresql+psycopg://… gunicorn -w 2 'benchmarks.minimal_app:create_app()'``
serves ``POST /rows`` (a JSON object with an ``idempotency_key``; answers 201 with the new
row's id) and ``GET /healthz``. The table is made by ``create_table``, once, before the
workers start; ``benchmarks/filing.py`` does both.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from flask import Flask, abort, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, String, create_engine, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Row(db.Model):
    """One filed report, with just enough columns to resemble one."""

    __tablename__ = "bench_minimal_row"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    x: Mapped[float]
    y: Mapped[float]
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def create_table(database_url: str) -> None:
    """Create the benchmark table in ``database_url`` (done once, not by each worker)."""
    engine = create_engine(database_url)
    Base.metadata.create_all(engine, tables=[Row.__table__])
    engine.dispose()


def create_app(database_url: str | None = None) -> Flask:
    """The baseline app, on ``database_url`` or the ``BENCH_DATABASE_URL`` environment variable."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url or os.environ["BENCH_DATABASE_URL"]
    db.init_app(app)

    @app.post("/rows")
    def insert_row():
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("idempotency_key"), str):
            abort(400)
        row = Row(
            idempotency_key=data["idempotency_key"],
            x=float(data.get("x", 0.0)),
            y=float(data.get("y", 0.0)),
            description=str(data.get("description", "")),
            created_at=datetime.now(timezone.utc),
        )
        db.session.add(row)
        db.session.commit()
        return jsonify(id=row.id), 201

    @app.get("/healthz")
    def healthz():
        db.session.execute(text("SELECT 1"))
        return jsonify(status="ok")

    return app
