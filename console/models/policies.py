"""Every relationship between the domain models, each with its delete policy, declared once."""

from console.models.base import OnDelete, link

LIST_OWNER = link(
    parent="Person",
    child="TodoList",
    parent_table="person",
    fk_column="owner_id",
    policy=OnDelete.RESTRICT,
    collection="lists",
    reference="owner",
    nullable=False,
    description="A person who owns lists cannot be deleted until the lists move or go.",
)
LIST_TODOS = link(
    parent="TodoList",
    child="Todo",
    parent_table="todo_list",
    fk_column="list_id",
    policy=OnDelete.CASCADE,
    collection="todos",
    reference="todo_list",
    nullable=False,
    description="Deleting a list deletes its to-dos.",
)
TODO_ASSIGNEE = link(
    parent="Person",
    child="Todo",
    parent_table="person",
    fk_column="assignee_id",
    policy=OnDelete.SET_NULL,
    collection="assigned_todos",
    reference="assignee",
    nullable=True,
    description="Deleting a person leaves their to-dos in place, unassigned.",
)
