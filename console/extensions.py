"""Extensions, created unbound and bound to an app in ``create_app``."""

from typing import Any, cast

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.orm import Session

from console.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()


def session() -> Session:
    """This app context's SQLAlchemy session (the object behind ``db.session``)."""
    return db.session()


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched.

    ``Session.execute`` is typed as returning a ``Result``; for DML it is a
    ``CursorResult``, which carries the count.
    """
    return cast(CursorResult[Any], result).rowcount or 0
