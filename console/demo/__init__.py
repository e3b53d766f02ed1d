"""The built-in to-do demo: an application of its own (models, migrations, seed data)."""
