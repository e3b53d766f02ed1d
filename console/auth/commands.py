"""Command-line tools of sign-in security: audit retention and two-factor resets."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from console.audit import record
from console.auth import two_factor
from console.auth.retention import prune_audit
from console.extensions import db
from console.models import Account
from console.rules import normalise_email

audit = AppGroup("audit", help="The audit log.")


@audit.command("prune")
@click.option(
    "--days",
    type=click.IntRange(1),
    default=None,
    help="Keep this many days (default: CONSOLE_AUDIT_RETENTION_DAYS).",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def prune_command(days: int | None, dry_run: bool) -> None:
    """Delete audit entries older than the retention period (the prune itself is recorded)."""
    days = days or int(current_app.config["CONSOLE_AUDIT_RETENTION_DAYS"])
    result = prune_audit(db.session(), days=days, dry_run=dry_run)
    click.echo(result.describe())


@click.command("reset-2fa")
@click.argument("email")
def reset_two_factor_command(email: str) -> None:
    """Turn off two-factor sign-in for EMAIL (lost phone and codes); ends its sessions."""
    account = db.session.scalar(select(Account).where(Account.email == normalise_email(email)))
    if account is None:
        raise click.ClickException(f"No account {normalise_email(email)}.")
    if not account.two_factor_enabled:
        raise click.ClickException(f"{account.email} does not use two-factor sign-in.")
    two_factor.disable(db.session(), account)
    account.end_sessions()
    record(
        db.session(),
        "two_factor_reset",
        model="Account",
        object_id=account.id,
        changes={"summary": {"email": account.email, "by": "command line"}},
    )
    db.session.commit()
    click.echo(f"Two-factor sign-in is off for {account.email}; its sessions have ended.")


def register(app: Flask) -> None:
    """Add ``console audit prune`` and ``console reset-2fa`` to ``app.cli``."""
    app.cli.add_command(audit)
    app.cli.add_command(reset_two_factor_command)
