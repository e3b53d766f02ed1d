"""The tuned ModelAdmin: what a Django user would set for a table of a million rows."""

from __future__ import annotations

from django.contrib import admin

from django_bench.models import Todo


@admin.register(Todo)
class TodoAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "description",
        "completed",
        "due_date",
        "priority",
        "updated_at",
        "todo_list",
        "assignee",
    )
    list_select_related = ("todo_list", "assignee")
    list_per_page = 50
    # No second count(*) of the whole table next to a filtered one.
    show_full_result_count = False
    search_fields = ("description__ilike",)
    list_filter = ("completed",)
    ordering = ("id",)
