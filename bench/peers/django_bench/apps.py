from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "django_bench"
    label = "bench"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from django_bench import lookups  # noqa: F401  (registers __ilike)
