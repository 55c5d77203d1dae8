# syntax=docker/dockerfile:1
# Accord gateway / worker image: slim, non-root, gunicorn.
FROM python:3.11.7-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY adapters ./adapters
COPY gateway ./gateway
COPY ledger ./ledger
COPY records ./records
COPY workers ./workers
RUN python -m venv /opt/accord \
 && /opt/accord/bin/pip install --upgrade pip==25.3 \
 && /opt/accord/bin/pip install .

FROM python:3.11.7-slim-bookworm
RUN groupadd --system accord && useradd --system --gid accord --home-dir /var/lib/accord --create-home accord
COPY --from=build /opt/accord /opt/accord
ENV PATH=/opt/accord/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ACCORD_AUTO_MIGRATE=0 \
    WEB_CONCURRENCY=2
WORKDIR /var/lib/accord
USER accord
EXPOSE 8080 2575
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/fhir/metadata', timeout=2)" || exit 1
# The app factory is called once per worker; migrations run in the separate `migrate` service.
CMD ["gunicorn", "--bind", "0.0.0.0:8080", "--access-logfile", "-", "gateway:create_app()"]
