# The storefront's image, built by `slipway image build` from a release bundle
# (`make bundle`): the build context is the unpacked bundle, never this repository, so
# no .git, tests or local settings can reach the image.
#
#   build: the wheels installed into a virtualenv (no index, no compiler)
#   final: that virtualenv, the migrations and the production alembic.ini, run as the
#          unprivileged user `app`
#
# BASE is any Debian-based image with python3 and its venv module at the Python the
# bundle has wheels for (its MANIFEST lists them).
ARG BASE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE} AS build
COPY requirements.txt /bundle/requirements.txt
COPY wheels /bundle/wheels
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /bundle/wheels \
      --requirement /bundle/requirements.txt \
 && find /opt/venv -name __pycache__ -prune -exec rm -rf {} +

FROM ${BASE}
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home app
COPY --from=build /opt/venv /opt/venv
COPY MANIFEST alembic_prod.ini /app/
COPY migrations /app/migrations
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER app
EXPOSE 8000
CMD ["gunicorn", "storefront.app:app", "--worker-class", "uvicorn_worker.UvicornWorker", \
     "--bind", "0.0.0.0:8000"]
# What slipway checks the image carries (it passes these build arguments): last, so a
# new release rebuilds only these layers.
ARG SLIPWAY_RELEASE
ARG SLIPWAY_COMMIT
ARG SLIPWAY_ALEMBIC_HEAD
LABEL org.opencontainers.image.vendor="slipway" \
      org.slipway.release="${SLIPWAY_RELEASE}" \
      org.opencontainers.image.revision="${SLIPWAY_COMMIT}" \
      org.slipway.alembic-head="${SLIPWAY_ALEMBIC_HEAD}"
