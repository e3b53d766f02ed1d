# The console image: the package and gunicorn, nothing else.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY console ./console
COPY templates ./templates
COPY migrations ./migrations
RUN pip install . && useradd --create-home console && mkdir -p /app/instance && chown console /app/instance
USER console

EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "console:create_app()"]
