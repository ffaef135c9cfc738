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
# Model caches live in the user's home: `civility models pull` and `import` write there (or mount them).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TORCH_HOME=/home/civility/.cache/torch \
    HF_HOME=/home/civility/.cache/huggingface
USER civility
WORKDIR /home/civility

FROM base AS worker
# Bake a model into the image: --build-arg CIVILITY_MODEL=original (or unbiased, multilingual, original-small,
# unbiased-small) pulls it at build time, verified against the digests pinned in the code, from upstream or
# from --build-arg CIVILITY_MODEL_MIRROR=https://models.example.org/civility (see README, "Scoring models").
# Empty (the default): no model in the image; mount caches, or let the worker pull at start.
ARG CIVILITY_MODEL=""
ARG CIVILITY_MODEL_MIRROR=""
RUN if [ -n "${CIVILITY_MODEL}" ]; then \
      CIVILITY_MODEL_MIRROR="${CIVILITY_MODEL_MIRROR}" civility models pull "${CIVILITY_MODEL}" \
      && civility models verify "${CIVILITY_MODEL}"; \
    fi
# The baked model is the one workers use (an empty value keeps the default, original).
ENV CIVILITY_DETOXIFY_MODEL=${CIVILITY_MODEL}
CMD ["civility", "worker"]

# The default target: the API under gunicorn. Run `civility db upgrade` once per release first.
FROM base AS api
EXPOSE 8000
# service/gunicorn_conf.py: the logger (escaped lines, no client address) and the access-log format.
CMD ["gunicorn", "-c", "python:service.gunicorn_conf", "--bind", "0.0.0.0:8000", "--workers", "4", \
     "--threads", "4", "service:create_app()"]
