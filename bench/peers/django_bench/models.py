"""Unmanaged models over the console's person, todo_list and todo tables."""

from __future__ import annotations

from django.db import models


class Person(models.Model):
    name = models.CharField(max_length=120)
    email = models.CharField(max_length=254)

    class Meta:
        managed = False
        db_table = "person"

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class TodoList(models.Model):
    name = models.CharField(max_length=120)
    owner = models.ForeignKey(Person, models.DO_NOTHING, db_column="owner_id")

    class Meta:
        managed = False
        db_table = "todo_list"

    def __str__(self) -> str:
        return self.name


class Todo(models.Model):
    description = models.CharField(max_length=500)
    completed = models.BooleanField(default=False)
    due_date = models.DateField(null=True, blank=True)
    priority = models.CharField(max_length=10)
    todo_list = models.ForeignKey(TodoList, models.DO_NOTHING, db_column="list_id")
    assignee = models.ForeignKey(
        Person, models.DO_NOTHING, db_column="assignee_id", null=True, blank=True
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    version = models.IntegerField()

    class Meta:
        managed = False
        db_table = "todo"

    def __str__(self) -> str:
        return self.description
