"""The migrations page: where the database stands, and confirmed upgrade/downgrade (admin only)."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from console import schema
from console.admin.gated import RoleGatedView
from console.auth.roles import requires
from console.extensions import db
from console.rules import Role


def scripts_directory() -> str:
    """The scripts directory the app's Flask-Migrate uses (one place says where they are)."""
    return current_app.extensions["migrate"].directory


class MigrationsView(RoleGatedView):
    """Schema status, drift and actions. Every endpoint needs the admin role."""

    view_role = Role.admin

    @expose("/")
    @requires(Role.admin)
    def index(self) -> Any:
        from console import histories_of_app, managed_tables

        report = schema.report(
            db.engine, histories_of_app(current_app), managed_tables(current_app)
        )
        status = report.own
        first = {rev.id for rev in status.history if not rev.parents}
        # The actions act on the console's own history; the others are shown with it.
        return self.render(
            "admin/migrations.html", report=report, status=status, first_revisions=first
        )

    @expose("/upgrade", methods=["GET"])
    @requires(Role.admin)
    def confirm_upgrade(self) -> Any:
        target = request.args.get("target", "heads")
        status = schema.status(db.engine, scripts_directory())
        try:
            plan = schema.upgrade_plan(status, scripts_directory(), target)
        except schema.SchemaError as exc:
            flash(f"Upgrade not possible: {exc}", "error")
            return redirect(url_for(".index"))
        return self.render("admin/migrations_upgrade.html", status=status, plan=plan, target=target)

    @expose("/upgrade", methods=["POST"])
    @requires(Role.admin)
    def upgrade(self) -> Any:
        target = request.form.get("target", "heads")
        expected = tuple(filter(None, request.form.get("expected_current", "").split(",")))
        plan = request.form.get("expected_plan")
        result = schema.upgrade(
            db.engine,
            scripts_directory(),
            target,
            expected_current=expected,
            expected_plan=None if plan is None else list(filter(None, plan.split(","))),
            account=self._actor(),
        )
        return self._done(result)

    @expose("/downgrade", methods=["GET"])
    @requires(Role.admin)
    def confirm_downgrade(self) -> Any:
        revision = self._downgradable()
        if revision is None:
            return redirect(url_for(".index"))
        return self.render("admin/migrations_downgrade.html", revision=revision, error=None)

    @expose("/downgrade", methods=["POST"])
    @requires(Role.admin)
    def downgrade(self) -> Any:
        expected = request.form.get("expected_current", "")
        typed = request.form.get("confirm_revision", "").strip()
        revision = self._downgradable()
        if revision is None:
            return redirect(url_for(".index"))
        if not expected or typed != expected:
            error = f"Type the revision id {revision.id} exactly to confirm the downgrade."
            return self.render(
                "admin/migrations_downgrade.html", revision=revision, error=error
            ), 400
        result = schema.downgrade_one(
            db.engine, scripts_directory(), expected, account=self._actor()
        )
        return self._done(result)

    def _downgradable(self) -> schema.RevisionInfo | None:
        """The revision one step down undoes, or None (with the reason flashed)."""
        try:
            revision = schema.plan_downgrade(db.engine, scripts_directory())
        except schema.SchemaError as exc:
            flash(f"Downgrade not possible: {exc}", "error")
            return None
        if not revision.parents:
            # It drops the accounts table, and with it every login, this page's included.
            flash(
                f"Downgrade not possible here: {revision.id} is the first revision, and undoing it "
                "drops every table, the console's accounts included. If you really mean to empty "
                "the database, run `console db downgrade base` on the server.",
                "error",
            )
            return None
        return revision

    def _actor(self) -> schema.Actor:
        # Captured before the run: a downgrade may drop the table the account lives in.
        actor = schema.Actor(id=current_user.id, email=current_user.email)
        # The request's session must not hold a transaction (SQLite locks) across the DDL.
        db.session.remove()
        return actor

    def _done(self, result: schema.RunResult) -> Any:
        flash(result.describe(), "success" if result.ok else "error")
        if not result.audited and not result.nothing_to_do:
            flash(
                "The run could not be written to the audit table (it does not exist now).",
                "warning",
            )
        return redirect(url_for(".index"))
