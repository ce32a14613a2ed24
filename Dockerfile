# syntax=docker/dockerfile:1
#
# One image for every creditflow service; the service is chosen by the command:
#   docker run ... creditflow run importer|validator|notifier|dashboard
# Connection settings (DESIGN section 3) come from the environment, see docker-compose.yml.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
# Build stage: turn the project and all of its dependencies into wheels, so the runtime stage
# installs offline and never needs a compiler or the source tree.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src

# Dependencies first, from pyproject.toml alone, so editing code does not re-download them.
COPY pyproject.toml README.md ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
 && pip wheel --wheel-dir /wheels --requirement /tmp/requirements.txt

# Then the project itself: the three top-level packages pyproject.toml declares.
COPY creditflow ./creditflow
COPY shared ./shared
COPY services ./services
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --no-deps --wheel-dir /wheels .

# ---------------------------------------------------------------------------------------------
# Runtime stage: slim Python, the installed wheels, a fixed non-root user.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# A fixed uid/gid (not whatever useradd picks) so volume ownership and Kubernetes
# runAsUser/fsGroup settings can rely on it.
ARG APP_UID=10001
ARG APP_GID=10001

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

# The wheels are bind-mounted from the build stage rather than copied, so they never end up in
# an image layer.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels creditflow

RUN groupadd --system --gid "${APP_GID}" creditflow \
 && useradd --system --uid "${APP_UID}" --gid creditflow \
        --home-dir /var/lib/creditflow --no-create-home --shell /usr/sbin/nologin creditflow \
 && install -d -o creditflow -g creditflow -m 0750 /var/lib/creditflow

# In a container the HTTP endpoint (/healthz, /metrics, the dashboard) must listen on all
# interfaces to be reachable; the dashboard then insists on CREDITFLOW_API_TOKEN.
ENV CREDITFLOW_HOME=/var/lib/creditflow \
    CREDITFLOW_HTTP_HOST=0.0.0.0 \
    CREDITFLOW_HTTP_PORT=8000

WORKDIR /var/lib/creditflow
USER ${APP_UID}:${APP_GID}

EXPOSE 8000

# slim has no curl: ask Python. Reads the port from the environment so overriding
# CREDITFLOW_HTTP_PORT does not silently break the check; urlopen raises on any non-2xx.
# The start period covers migrations and topic creation at start-up.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CREDITFLOW_HTTP_PORT', '8000'), timeout=4)"]

ENTRYPOINT ["creditflow"]
CMD ["--help"]
