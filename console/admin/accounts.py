"""The Account view: admin-only, with a password field that stores only a hash."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from wtforms import PasswordField, ValidationError
from wtforms.validators import Optional

from console.admin.forms import RuleValidator
from console.admin.model_view import ConsoleModelView
from console.auth.service import count_admins
from console.extensions import session as current_session
from console.models import Account
from console.rules import Role, check_password


class AccountView(ConsoleModelView):
    """Console accounts. The hash is never shown, exported or editable."""

    min_role = Role.admin
    # Class attributes: Flask-Admin builds the forms from them in __init__.
    form_columns = ["email", "role", "active", "password"]
    form_extra_fields = {
        "password": PasswordField(
            "Password",
            validators=[Optional(), RuleValidator(check_password)],
            description="At least 8 characters.",
        )
    }

    def create_form(self, obj: Any = None) -> Any:
        form = super().create_form(obj)
        # A new account has no password to keep: one is required (on_model_change says so).
        form.password.flags.required = True
        return form

    def edit_form(self, obj: Any = None) -> Any:
        form = super().edit_form(obj)
        form.password.description = (
            "At least 8 characters. Leave blank to keep the current password."
        )
        return form

    def on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        password = form.password.data
        if is_created and not password:
            raise _field_error("password", "A new account needs a password.")
        if password:
            model.set_password(password)
        self._keep_an_admin(model, leaving=not model.has_role(Role.admin))

    def delete_refusal(self, session: Session, ids: list[Any]) -> str | None:
        # Counted without the selected ids, so it holds before and after the DELETE runs.
        if current_user.id in ids:
            return "You cannot delete your own account."
        admins_left = session.scalar(
            select(func.count())
            .select_from(Account)
            .where(Account.role == Role.admin, Account.active.is_(True), Account.id.not_in(ids))
        )
        if not admins_left:
            return "This would delete the last active admin account: keep at least one."
        return None

    def edit_refusal(self, session: Session) -> str | None:
        # In-place edits of role or active keep the same rule as the form.
        if count_admins(session) == 0:
            return "This is the last active admin account: keep it."
        return None

    def _keep_an_admin(self, model: Any, leaving: bool) -> None:
        # Without an active admin nobody could manage accounts or run migrations.
        if leaving and model.id is not None:
            current_session().flush()
            if count_admins(current_session()) == 0:
                raise _field_error("role", "This is the last active admin account: keep it.")


def _field_error(field: str | None, message: str) -> ValidationError:
    from console.admin.edit_page import FieldProblem

    return FieldProblem(message, field)
