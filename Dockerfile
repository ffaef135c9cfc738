# syntax=docker/dockerfile:1
# Two images from one file:  docker build --target api .   and   docker build --target worker .
# The api image has no torch, transformers or Detoxify (`pip install .`: the API never loads a model); the
# worker's (`.[worker]`) has torch's CPU build from TORCH_INDEX, PyTorch's CPU wheel index. GPU workers:
# --build-arg TORCH_INDEX= (empty) takes the default index's build (CUDA on Linux x86_64), or name one CUDA
# version's index (https://download.pytorch.org/whl/cu128). An index that does not answer within seconds
# falls back to torch==TORCH_VERSION from the default index, with one line saying so.
ARG PYTHON=python:3.11-slim

FROM ${PYTHON} AS venv
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

FROM venv AS build-api
COPY pyproject.toml README.md ./
COPY civility ./civility
COPY service ./service
COPY workers ./workers
RUN pip install .

FROM venv AS build-worker
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# torch first (a layer of its own, kept when only the code changes); the extra's range then keeps it.
# --isolated: that index alone, as in the Makefile.
RUN if [ -z "${TORCH_INDEX}" ]; then pip install "torch==${TORCH_VERSION}"; \
    elif ! pip install --quiet --isolated --no-cache-dir --timeout 5 --retries 0 --index-url "${TORCH_INDEX}" \
        "torch==${TORCH_VERSION}" >/dev/null 2>&1; then \
      echo "torch: ${TORCH_INDEX} did not answer; falling back to torch==${TORCH_VERSION} from the default index"; \
      pip install "torch==${TORCH_VERSION}"; \
    fi
COPY pyproject.toml README.md ./
COPY civility ./civility
COPY service ./service
COPY workers ./workers
RUN pip install ".[worker]"

FROM ${PYTHON} AS base
RUN useradd --create-home --uid 10001 civility
# Model caches live in the user's home: `civility models pull` and `import` write there (or mount them).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TORCH_HOME=/home/civility/.cache/torch \
    HF_HOME=/home/civility/.cache/huggingface
USER civility
WORKDIR /home/civility

FROM base AS worker
COPY --from=build-worker /opt/venv /opt/venv
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
COPY --from=build-api /opt/venv /opt/venv
EXPOSE 8000
# service/gunicorn_conf.py: the logger (escaped lines, no client address) and the access-log format.
CMD ["gunicorn", "-c", "python:service.gunicorn_conf", "--bind", "0.0.0.0:8000", "--workers", "4", \
     "--threads", "4", "service:create_app()"]
