"""Import, export and bulk edits of models shaped unlike the demo and the contract.

A text primary key that is also the natural key (Country.code), a foreign key to a
unique column that is not a key (Road.city_name -> City.name), big and small
integers, a float, a naive date-time, a native enum and no version column at all.
Throwaway models, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import enum
import io
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import console.models
from console import catalogue, own_schema
from console.bulk import edits
from console.bulk.exporter import export_chunks
from console.bulk.fileformat import file_format
from console.bulk.importer import ImportResult, import_file
from console.models import Account, AuditEntry
from tests.bulk_helpers import errors_of
from tests.conftest import create_pg_database, drop_pg_database, require_pg


class Base(DeclarativeBase):
    pass


class Climate(enum.Enum):
    polar = "polar"
    temperate = "temperate"
    tropical = "tropical"


class Country(Base):
    __tablename__ = "bulk_country"
    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    member: Mapped[bool] = mapped_column(default=False)


class City(Base):
    __tablename__ = "bulk_city"
    # A rule of the database's own, which no file format knows about.
    __table_args__ = (CheckConstraint("population >= 0", name="ck_bulk_city_population"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("bulk_country.code"))
    population: Mapped[int] = mapped_column(BigInteger)
    rank: Mapped[int | None] = mapped_column(SmallInteger)
    area: Mapped[float | None] = mapped_column(Float)
    founded: Mapped[date | None]
    surveyed_at: Mapped[datetime | None]
    climate: Mapped[Climate] = mapped_column(
        Enum(Climate, name="bulk_climate", native_enum=True), default=Climate.temperate
    )
    notes: Mapped[str | None] = mapped_column(Text)


class Road(Base):
    __tablename__ = "bulk_road"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(10), unique=True)
    city_name: Mapped[str | None] = mapped_column(ForeignKey("bulk_city.name"))


MODELS = (Country, City, Road)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    require_pg()
    url = create_pg_database("console_test_any")
    yield url
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    """The throwaway tables and the console's own, with a few rows."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'any.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = own_schema.on_engine(sa.create_engine(url))
    Base.metadata.create_all(engine)
    console.models.create_own_tables(engine)
    with Session(engine) as s:
        # No relationships to order the inserts by: parents are flushed first.
        s.add_all([Country(code="NL", name="Netherlands", member=True),
                   Country(code="NO", name="Norway")])
        s.flush()
        s.add_all([
            City(id=1, name="Amsterdam", country_code="NL", population=2**40, rank=1,
                 area=219.32, founded=date(1275, 10, 27),
                 surveyed_at=datetime(2024, 5, 1, 9, 30, 0, 5), climate=Climate.temperate,
                 notes="canals, \"bikes\""),
            City(id=2, name="Tromsø", country_code="NO", population=77_000, rank=None,
                 area=2.5e3, founded=None, surveyed_at=None, climate=Climate.polar, notes=None),
        ])
        s.flush()
        s.add_all([
            Road(number="A10", city_name="Amsterdam"),
            Road(number="E8", city_name=None),
        ])
        s.commit()
        try:
            yield s
        finally:
            s.rollback()
    Base.metadata.drop_all(engine)
    console.models.drop_own_tables(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def described() -> Any:
    cat = catalogue.build(MODELS, own=[Account, AuditEntry])
    return cat.by_name


def export(session: Session, description: Any, fmt: str) -> bytes:
    data = b"".join(export_chunks(session, description, fmt))
    session.rollback()
    return data


def load(session: Session, description: Any, data: bytes, **kwargs: Any) -> ImportResult:
    kwargs.setdefault("dry_run", False)
    return import_file(session, description, io.BytesIO(data), **kwargs)


def rows(session: Session) -> list[Any]:
    session.expire_all()
    found = [session.execute(sa.select(m.__table__).order_by(*m.__table__.primary_key.columns))
             .all() for m in MODELS]
    session.rollback()
    return found


def test_the_files_of_unusual_models(described: Any) -> None:
    """A text key is in the file and matches rows; a reference to a unique name holds it."""
    assert file_format(described("country")).columns == ["code", "name", "member"]
    assert file_format(described("country")).key == "code"
    assert file_format(described("city")).columns == [
        "id", "name", "country_code", "population", "rank", "area", "founded", "surveyed_at",
        "climate", "notes",
    ]
    assert file_format(described("road")).columns == ["id", "number", "city_name"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_round_trip_of_unusual_models(session: Session, described: Any, fmt: str) -> None:
    """Export, then import in upsert mode: nothing changes; every value survives exactly."""
    before = rows(session)
    for name in ("country", "city", "road"):
        data = export(session, described(name), fmt)
        result = load(session, described(name), data, upsert=True)
        assert result.ok, result.errors
        assert (result.inserted, result.updated, result.unchanged) == (0, 0, result.rows)
    assert rows(session) == before
    cities = export(session, described("city"), "csv").decode()
    assert "1099511627776" in cities and "219.32" in cities and "2500" in cities
    assert "2024-05-01T09:30:00.000005" in cities and "1275-10-27" in cities


def test_reload_into_empty_tables(session: Session, described: Any) -> None:
    """The same rows, text keys and references to names included."""
    before = rows(session)
    files = {name: export(session, described(name), "csv") for name in ("country", "city", "road")}
    for model in reversed(MODELS):
        session.execute(sa.delete(model))
    session.commit()
    for name in ("country", "city", "road"):
        assert load(session, described(name), files[name]).committed
    after = rows(session)
    assert after[:2] == before[:2]
    assert [r[1:] for r in after[2]] == [r[1:] for r in before[2]]  # roads: new ids


def test_unusual_values_are_checked_by_their_kind(session: Session, described: Any) -> None:
    """The range of each integer type, floats, naive date-times, a text key that is required."""
    result = load(session, described("city"), (
        b"name,country_code,population,rank,area,surveyed_at,climate\n"
        b"A,NL,9223372036854775808,1,1.5,2024-01-01 10:00,polar\n"
        b"B,NL,1,40000,1.5,,\n"
        b"C,NL,1,1,nan,,\n"
        b"D,XX,1,1,1,2024-01-01 25:00,arid\n"
        b"E,NL,-1,-32768,-1e-3,2024-01-01T10:00:00+02:00,TROPICAL\n"
    ), dry_run=True)
    assert errors_of(result) == [
        (2, "population", "Population must be a whole number from -9223372036854775808 to "
                          "9223372036854775807 (got '9223372036854775808')."),
        (3, "rank", "Rank must be a whole number from -32768 to 32767 (got '40000')."),
        (4, "area", "Area must be a number (got 'nan')."),
        # Every error of a row, in the file's column order (the parent is checked too).
        (5, "country_code", "No country with code 'XX'."),
        (5, "surveyed_at", "Surveyed at: expected a date and time as YYYY-MM-DD HH:MM "
                           "(got '2024-01-01 25:00')."),
        (5, "climate", "Climate must be one of polar, temperate, tropical (got 'arid')."),
    ]
    assert result.inserted == 1
    result = load(session, described("country"), b"code,name\n,Nowhere\nnl,Lower\n")
    assert errors_of(result) == [(2, "code", "Code is required.")]
    result = load(session, described("country"), b"code,name\nNL,Nederland\n", upsert=True)
    assert result.committed and (result.updated, result.notes[0][:30]) == (
        1, "Countries have no version colu"
    )
    result = load(session, described("road"), b"number,city_name\nN1,Tromso\n")
    assert errors_of(result) == [(2, "city_name", "No city with name 'Tromso'.")]
    assert load(session, described("road"), "number,city_name\nN1,Tromsø\n".encode()).committed
    road = session.scalars(sa.select(Road).where(Road.number == "N1")).one()
    assert road.city_name == "Tromsø"


def test_bulk_edits_with_a_text_key(session: Session, described: Any) -> None:
    """Row references carry any key; a reference to a unique name stores the name."""
    country = described("country")
    selected = edits.selection(session, country, ["NL", "NO"])
    refs = [edits.row_ref(country, obj, token) for obj, token in selected]
    rows_ = edits.parse_row_refs(country, refs)
    assert set(rows_) == {"NL", "NO"}
    outcome = edits.apply(session, country, "member", True, rows_)
    assert (outcome.written, outcome.unchanged) == (1, 1)
    assert session.get(Country, "NO").member is True
    road = described("road")
    city = session.scalars(sa.select(City).where(City.name == "Tromsø")).one()
    value = edits.parse_value(session, road, "city_name", str(city.id))
    assert value == "Tromsø"
    selected = edits.selection(session, road, [r.id for r in session.scalars(sa.select(Road))])
    outcome = edits.apply(session, road, "city_name", value,
                          {obj.id: token for obj, token in selected})
    assert outcome.written == 2
    entry = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "bulk_set")
                            .order_by(AuditEntry.id.desc())).first()
    assert entry is not None and entry.changes["summary"]["shown"] == "Tromsø"


def test_a_rule_of_the_database_is_a_message_not_an_error_page(
    session: Session, described: Any
) -> None:
    """A CHECK constraint refuses a row the kinds let through: nothing is written, and why."""
    result = load(session, described("city"),
                  b"name,country_code,population\nOk,NL,5\nMinus,NL,-1\n")
    assert not result.committed
    assert [(e.line, e.column) for e in result.errors] == [(0, None)]
    message = result.errors[0].message
    assert message.startswith("The database refused the rows: ") and "ck_bulk_city_population" in (
        message
    ) and message.endswith(". Nothing was written.")
    assert session.scalar(sa.select(sa.func.count()).select_from(City)) == 2


def test_a_key_the_database_does_not_number_is_required(described: Any) -> None:
    """A text key must be in the header (and in every row)."""
    assert file_format(described("country")).required == ["code", "name"]
