# syntax=docker/dockerfile:1
# Two images from one file:  docker build --target api .   and   docker build --target worker .
# torch is the big dependency. TORCH_SPEC pins it; to get the much smaller CPU-only build, pass
# PyTorch's CPU wheel index with --build-arg PIP_EXTRA_INDEX_URL=<that index>.
ARG PYTHON=python:3.11-slim

FROM ${PYTHON} AS build
ARG TORCH_SPEC=torch==2.13.0
ARG PIP_EXTRA_INDEX_URL=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL}
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install "${TORCH_SPEC}"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY civility ./civility
COPY service ./service
COPY workers ./workers
RUN pip install .

FROM ${PYTHON} AS base
RUN useradd --create-home --uid 10001 civility
COPY --from=build /opt/venv /opt/venv
# Model caches live in the user's home: mount pre-seeded caches here for air-gapped installs.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TORCH_HOME=/home/civility/.cache/torch \
    HF_HOME=/home/civility/.cache/huggingface
USER civility
WORKDIR /home/civility

FROM base AS worker
CMD ["civility", "worker"]

# The default target: the API under gunicorn. Run `civility db upgrade` once per release first.
FROM base AS api
EXPOSE 8000
# service/gunicorn_conf.py: the logger (escaped lines, no client address) and the access-log format.
CMD ["gunicorn", "-c", "python:service.gunicorn_conf", "--bind", "0.0.0.0:8000", "--workers", "4", \
     "--threads", "4", "service:create_app()"]
