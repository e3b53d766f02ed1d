"""Accounts, sessions and roles."""

from console.auth.routes import bp

__all__ = ["bp"]
