"""The storefront HTTP service (FastAPI)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from storefront.models import Item
from storefront.settings import RELEASE_ENV, Settings, configure_logging

log = configure_logging(Settings.from_env())
app = FastAPI(title="storefront")


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    return create_engine(Settings.from_env().database_url, pool_pre_ping=True)


def get_session() -> Iterator[Session]:
    with Session(get_engine()) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


@app.get("/health")
def health(session: SessionDep) -> dict[str, Any]:
    """Alive and able to reach the database; says which revision the schema is at and
    which release answers (``STOREFRONT_RELEASE``, set by the process manager)."""
    try:
        revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as err:
        log.warning("health: database unavailable: %s", err.__class__.__name__)
        raise HTTPException(status_code=503, detail="database unavailable") from err
    log.debug("health: schema at %s", revision)
    return {"status": "ok", "revision": revision, "release": os.environ.get(RELEASE_ENV)}


@app.get("/items")
def list_items(session: SessionDep) -> list[dict[str, Any]]:
    rows = session.scalars(select(Item).order_by(Item.id)).all()
    return [
        {"id": i.id, "sku": i.sku, "name": i.name, "price_cents": i.price_cents, "stock": i.stock}
        for i in rows
    ]
