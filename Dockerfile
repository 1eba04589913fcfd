# The clinic service's image: web (gunicorn), Celery worker and beat all run from it
# (see docker-compose.yml for the commands and the environment).
FROM python:3.11-slim

# Production settings unless the container is told otherwise (debug is off by default anyway).
ENV DJANGO_DEBUG=false \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them.  The project is run from
# /app (pyproject.toml installs no packages of its own, only the dependencies).
COPY pyproject.toml README.md ./
RUN pip install .

COPY . .

# Static files are collected at build time with production settings (hashed, compressed names
# for whitenoise).  The secret key here is random and exists only for this command; the
# container needs its own DJANGO_SECRET_KEY at run time.
RUN DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --noinput

RUN useradd --system --uid 10001 --no-create-home clinic
USER clinic

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
