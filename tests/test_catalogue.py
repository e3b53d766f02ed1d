"""The catalogue: what it derives from metadata, and the declarations it refuses at start-up."""

from __future__ import annotations

import enum
import sys
import types
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Boolean, Date, Enum, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from console import build_catalogue, create_app
from console.catalogue import CatalogueError, pluralise
from console.kinds import (
    BooleanKind,
    ChoiceKind,
    DateKind,
    EmailKind,
    IdKind,
    NumberKind,
    ReferenceKind,
    TextKind,
)


@pytest.fixture
def module() -> Iterator[Any]:
    """A throwaway importable module (CONSOLE_MODELS names modules) with its own base."""
    mod = types.ModuleType("catalogue_models")

    class Base(DeclarativeBase):
        pass

    mod.Base = Base
    sys.modules[mod.__name__] = mod
    yield mod
    del sys.modules[mod.__name__]
    Base.registry.dispose()


def define(mod: Any, **classes: Any) -> None:
    for name, cls in classes.items():
        setattr(mod, name, cls)


class Colour(enum.Enum):
    red = "Red"
    green = "Green"


def shop(mod: Any, **options: Any) -> tuple[type, type]:
    """A Category (unique slug) with many Products; ``options`` are the Product's declaration."""
    Base = mod.Base

    class Category(Base):
        __tablename__ = "category"
        id: Mapped[int] = mapped_column(primary_key=True)
        slug: Mapped[str] = mapped_column(String(40), unique=True)
        title: Mapped[str] = mapped_column(String(80))
        products: Mapped[list[Product]] = relationship(back_populates="category")

    class Product(Base):
        __tablename__ = "product"
        __table_args__ = (Index("ix_product_price", "price"),)
        __console__ = options
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(100))
        notes: Mapped[str | None] = mapped_column(Text)
        price: Mapped[Decimal] = mapped_column(Numeric(8, 2))
        colour: Mapped[Colour | None] = mapped_column(Enum(Colour))
        on_sale: Mapped[bool] = mapped_column(Boolean, default=False)
        launched: Mapped[Any] = mapped_column(Date, nullable=True)
        contact_email: Mapped[str | None] = mapped_column(String(254))
        api_token: Mapped[str | None] = mapped_column(String(64))
        category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))
        category: Mapped[Category] = relationship(back_populates="products")

    define(mod, Category=Category, Product=Product)
    return Category, Product


def test_what_is_derived_from_metadata(module):
    category, product = shop(module)
    catalogue = build_catalogue(module.__name__)
    c, p = catalogue.describe(category), catalogue.describe(product)

    assert (c.name, c.singular, c.plural, c.title) == ("category", "category", "categories",
                                                       "Categories")
    # The only unique text column is the natural key, and so the label.
    assert (c.natural_key.key, c.label.key) == ("slug", "slug")
    # No unique text: rows are matched by id and named by their first short text.
    assert (p.natural_key.key, p.label.key) == ("id", "name")
    kinds = {info.key: type(info.kind) for info in p.columns}
    assert kinds == {
        "id": IdKind, "name": TextKind, "notes": TextKind, "price": NumberKind,
        "colour": ChoiceKind, "on_sale": BooleanKind, "launched": DateKind,
        "contact_email": EmailKind, "api_token": TextKind, "category_id": ReferenceKind,
    }
    # What the database stores: this Enum keeps member names (no values_callable).
    colour = p.column("colour").kind
    assert colour.choices == ("red", "green")
    assert (colour.python("green"), colour.to_text(Colour.green)) == (Colour.green, "green")
    # A column whose name looks like a secret is hidden (never shown, exported or edited).
    assert p.column("api_token").hidden and "api_token" not in [c.key for c in p.file_columns]
    # The reference is written in files by the parent's natural key, under the FK's name.
    ref = p.column("category_id")
    assert (ref.file_name, ref.label, ref.kind.key_kind.name) == ("category", "Category", "text")
    assert {c.key for c in p.bulk_columns} == {
        "price", "colour", "on_sale", "launched", "category_id"
    }
    assert {c.key for c in p.sortable} == {"id", "price"}
    assert {c.key for c in p.searchable} == {"name", "notes", "contact_email"}
    assert [e.collection for e in c.children] == ["products"]
    assert [e.collection for e in c.inline] == ["products"]
    assert p.version is None and [x.key for x in p.checked_columns] == [
        "name", "notes", "price", "colour", "on_sale", "launched", "contact_email",
        "category_id",
    ]


def test_a_declaration_overrides_what_is_derived(module):
    _category, product = shop(
        module, name="item", singular="item", plural="items", label="notes",
        toggles=["on_sale"], bulk_edit=["colour"], sortable=["price"], searchable=["name"],
        hidden=["launched"],
    )
    catalogue = build_catalogue(module.__name__)
    p = catalogue.describe(product)
    assert (p.name, p.plural, p.label.key) == ("item", "items", "notes")
    assert [c.key for c in p.toggles] == ["on_sale"]
    assert [c.key for c in p.bulk_columns] == ["colour"]
    assert [c.key for c in p.searchable] == ["name"]
    assert p.column("launched").hidden
    assert catalogue.by_name("Items").cls is product


WRONG = [
    ({"colour_scheme": "dark"}, "Product.__console__: unknown option(s) colour_scheme"),
    ({"label": "nope"}, "Product.__console__ label: no column 'nope'"),
    ({"natural_key": "name"}, "Product.__console__ natural_key: 'name' is not unique on its own"),
    ({"sortable": ["name"]}, "Product.__console__ sortable: 'name' has no index that starts"),
    ({"toggles": ["name"]}, "Product.__console__ toggles: 'name' is not a boolean"),
    ({"bulk_edit": ["name"]}, "Product.__console__ bulk_edit: 'name' cannot be bulk-edited"),
    ({"searchable": ["price"]}, "Product.__console__ searchable: 'price' is not text"),
    ({"hidden": ["ghost"]}, "Product.__console__ hidden: no column 'ghost'"),
    ({"inline": ["ghosts"]}, "Product.__console__ inline: no one-to-many relationship 'ghosts'"),
    ({"due": "name"}, "Product.__console__ due: 'name' is not a date column"),
    ({"emails": ["price"]}, "Product.__console__ emails: 'price' is not a text column"),
    ({"name": "account"}, "Product.__console__ name: 'account' is taken by a page"),
    ({"name": "Bad Name"}, "Product.__console__ name: 'Bad Name' must be lower-case"),
]


@pytest.mark.parametrize(("options", "message"), WRONG)
def test_a_wrong_declaration_is_refused_at_start_up_naming_the_model_and_option(
    module, options, message, tmp_path
):
    shop(module, **options)
    with pytest.raises(CatalogueError) as refused:
        create_app({"CONSOLE_MODELS": module.__name__, "SECRET_KEY": "x",
                    "INSTANCE_PATH": str(tmp_path),
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3"})
    assert message in str(refused.value)


def test_two_models_with_one_name_are_refused(module):
    Base = module.Base

    class First(Base):
        __tablename__ = "first"
        __console__ = {"name": "thing"}
        id: Mapped[int] = mapped_column(primary_key=True)

    class Second(Base):
        __tablename__ = "second"
        __console__ = {"name": "thing"}
        id: Mapped[int] = mapped_column(primary_key=True)

    define(module, First=First, Second=Second)
    with pytest.raises(CatalogueError, match="'thing' is also the name of First"):
        build_catalogue(module.__name__)


def test_a_module_that_cannot_be_imported_or_maps_nothing_is_refused():
    with pytest.raises(CatalogueError, match=r"cannot import 'no\.such\.models'"):
        build_catalogue("no.such.models")
    with pytest.raises(CatalogueError, match="module 'json' maps no model"):
        build_catalogue("json")


def test_composite_primary_keys_are_refused_by_name(module):
    Base = module.Base

    class Pair(Base):
        __tablename__ = "pair"
        left: Mapped[int] = mapped_column(Integer, primary_key=True)
        right: Mapped[int] = mapped_column(Integer, primary_key=True)

    define(module, Pair=Pair)
    with pytest.raises(CatalogueError, match="Pair: composite primary keys are not supported"):
        build_catalogue(module.__name__)


@pytest.mark.parametrize(
    ("words", "plural"),
    [("category", "categories"), ("box", "boxes"), ("bus", "buses"), ("day", "days"),
     ("person", "people"), ("order line", "order lines"), ("branch", "branches"),
     ("child", "children")],
)
def test_plurals_follow_english_rules_and_can_be_declared(words, plural):
    assert pluralise(words) == plural
