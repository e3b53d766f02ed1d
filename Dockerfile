# The console image: the package and gunicorn (settings: gunicorn.conf.py), nothing else.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CONSOLE_INSTANCE_PATH=/app/instance

WORKDIR /app
COPY pyproject.toml README.md gunicorn.conf.py ./
COPY console ./console
COPY templates ./templates
COPY migrations ./migrations
RUN pip install . && useradd --create-home console && mkdir -p /app/instance && chown console /app/instance
USER console

EXPOSE 8000
CMD ["gunicorn", "--config", "/app/gunicorn.conf.py"]
