"""Bulk import, export and bulk edits: plain Python over SQLAlchemy (no Flask imports)."""
