# Leadladder: one image for web (gunicorn), worker and beat. See docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Run the code in /app, next to templates/, static/ and locale/, and not the copy that
    # `pip install .` also puts in site-packages (BASE_DIR comes from the settings' path).
    PYTHONPATH=/app \
    WEB_CONCURRENCY=3

RUN useradd --system --uid 10001 --user-group --no-create-home leadladder

WORKDIR /app
COPY . .

# The code and the collected static files stay owned by root, so the app cannot rewrite
# them; only var/ (media, the SQLite fallback, beat's schedule) is the app's to write.
# The key below only lets settings load for collectstatic; it never reaches a running app.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends gettext \
    && pip install . \
    && DEBUG=false SECRET_KEY=build-only-collectstatic-key python manage.py compilemessages \
    && DEBUG=false SECRET_KEY=build-only-collectstatic-key \
        python manage.py collectstatic --no-input \
    && apt-get purge --yes --auto-remove gettext \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p var \
    && chown leadladder:leadladder var

USER leadladder
EXPOSE 8000

# ALLOWED_HOSTS rejects 127.0.0.1 in production, so the probe sends the first allowed host.
# /healthz is exempt from the HTTPS redirect, so plain HTTP inside the container is enough.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; \
host = os.environ.get('ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.'); \
host = 'localhost' if host in ('', '*') else host; \
urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:8000/healthz', \
headers={'Host': host}), timeout=4)"

CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
