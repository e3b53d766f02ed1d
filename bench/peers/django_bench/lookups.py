"""``field__ilike``: ``column ILIKE '%term%'``, which the trigram index on the column serves.

Django's own ``icontains`` is ``UPPER(column::text) LIKE UPPER('%term%')`` on
PostgreSQL, which an index on the column cannot serve (it would need one on
``upper(description)``). Tuning Django's search for the index that exists is one
lookup; the escaping is Django's own.
"""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, TextField
from django.db.models.lookups import PatternLookup


class ILike(PatternLookup):
    lookup_name = "ilike"

    def get_rhs_op(self, connection: Any, rhs: str) -> str:
        return f"ILIKE {rhs}"


CharField.register_lookup(ILike)
TextField.register_lookup(ILike)
