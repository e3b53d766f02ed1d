"""The contract models (tests/contract/models.py) on a database of their own, for the bulk tests.

``contract`` gives, on SQLite and on PostgreSQL, a plain SQLAlchemy session over
the contract tables and the console's own, and the catalogue the console builds
from ``CONSOLE_MODELS=tests.contract.models``: the engines see an application
they have never heard of.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import console.models
from console import build_catalogue, own_schema
from console.bulk.exporter import export_chunks
from console.bulk.importer import ImportResult, import_file
from console.catalogue import Catalogue, ModelDescription
from tests.conftest import create_pg_database, drop_pg_database, require_pg
from tests.contract.models import (
    METADATAS,
    Label,
    Member,
    Project,
    Stage,
    Step,
    Task,
    Team,
)

MODELS = "tests.contract.models"
# Parents before children: the order a copy is loaded in.
ORDER = ("team", "member", "project", "task", "step", "label")
TABLES = ("step", "task", "project", "team", "member", "label", "console.audit_entry",
          "console.account")


def create_tables(engine: sa.Engine) -> None:
    """The contract tables and the console's own."""
    for metadata in METADATAS:
        metadata.create_all(engine)
    console.models.create_own_tables(engine)


@dataclass
class Contract:
    """A session on the contract tables and their catalogue."""

    session: Session
    catalogue: Catalogue

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def describe(self, name: str) -> ModelDescription:
        return self.catalogue.by_name(name)

    def run_import(self, model: str, data: str | bytes, **kwargs: Any) -> ImportResult:
        """Import ``data`` (text is UTF-8) for real unless told otherwise."""
        raw = data.encode() if isinstance(data, str) else data
        kwargs.setdefault("dry_run", False)
        return import_file(self.session, self.describe(model), io.BytesIO(raw), **kwargs)

    def export(self, model: str, fmt: str = "csv") -> bytes:
        """Every row of ``model`` as the export writes it (COPY on PostgreSQL)."""
        try:
            return b"".join(export_chunks(self.session, self.describe(model), fmt))
        finally:
            self.session.rollback()

    def snapshot(self) -> dict[str, list[Any]]:
        """Every contract table's rows, by primary key."""
        self.session.expire_all()
        tables = {}
        for cls in (Team, Member, Project, Task, Step, Label):
            table = cls.__table__  # type: ignore[attr-defined]
            tables[table.name] = self.session.execute(
                sa.select(table).order_by(*table.primary_key.columns)
            ).all()
        self.session.rollback()
        return tables

    def count(self, cls: type) -> int:
        self.session.expire_all()
        total = self.session.scalar(sa.select(sa.func.count()).select_from(cls)) or 0
        self.session.rollback()
        return total


def seed(session: Session) -> dict[str, Any]:
    """Rows of every contract model, with values that need care in files."""
    core = Team(code="core", title="Core, the team")
    ops = Team(code="ops", title="=Ops")
    ann = Member(handle="ann", full_name="Ann Example")
    bob = Member(handle="bob", full_name="Bob 'the builder'", active=False)
    apollo = Project(name="Apollo", budget=Decimal("1234.50"), team=core)
    zeus = Project(name="Zeus", budget=None, archived=True, team=ops)
    plan = Task(title="Plan", stage=Stage.doing, estimate=Decimal("2.5"),
                due_at=datetime(2026, 1, 31, 14, 30, tzinfo=UTC), project=apollo, reviewer=ann)
    build = Task(title="Build, then test", stage=Stage.todo, estimate=None,
                 due_at=datetime(2026, 2, 1, 9, 0, 0, 250000, tzinfo=UTC), project=apollo)
    ship = Task(title="Ship", stage=Stage.done, project=zeus, reviewer=bob)
    steps = [
        Step(position=1, note="First, with a comma", task=plan),
        Step(position=-3, note="-3 starts like a formula", task=plan),
        Step(position=2, note='Line one\nline "two"', task=build),
    ]
    labels = [Label(text="urgent", colour="red"), Label(text="later", colour=None)]
    session.add_all([core, ops, ann, bob, apollo, zeus, plan, build, ship, *steps, *labels])
    session.commit()
    ids = {
        "core": core.id, "ops": ops.id, "ann": ann.id, "bob": bob.id, "apollo": apollo.id,
        "zeus": zeus.id, "plan": plan.id, "build": build.id, "ship": ship.id,
        "steps": [s.id for s in steps],
    }
    session.expire_all()
    return ids


@pytest.fixture(scope="session")
def contract_pg_url() -> Iterator[str]:
    """A PostgreSQL database with the contract tables, for this test run."""
    require_pg()
    url = create_pg_database("console_test_contract")
    engine = own_schema.on_engine(sa.create_engine(url))
    create_tables(engine)
    engine.dispose()
    yield url
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def contract(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Contract]:
    """Empty contract tables on SQLite or PostgreSQL, a session on them and their catalogue."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'contract.sqlite3'}"
        engine = own_schema.on_engine(sa.create_engine(url))
        create_tables(engine)
    else:
        engine = own_schema.on_engine(sa.create_engine(request.getfixturevalue("contract_pg_url")))
    session = Session(engine)
    try:
        yield Contract(session, build_catalogue(MODELS))
    finally:
        session.close()
        if request.param == "postgresql":
            with engine.begin() as conn:
                conn.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        engine.dispose()


@pytest.fixture
def pg_contract(contract_pg_url: str) -> Iterator[Contract]:
    """The contract tables on PostgreSQL only (for tests that compare both import paths there)."""
    engine = own_schema.on_engine(sa.create_engine(contract_pg_url))
    session = Session(engine)
    try:
        yield Contract(session, build_catalogue(MODELS))
    finally:
        session.close()
        with engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        engine.dispose()


@pytest.fixture
def seeded(contract: Contract) -> dict[str, Any]:
    """The rows of ``seed`` in the contract tables."""
    return seed(contract.session)
