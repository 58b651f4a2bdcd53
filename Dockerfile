# skillstream's services (worker, sinks, HTTP front door) in one image, on the newest Python
# skillstream supports (3.11, 3.12 and 3.13 are tested; see the README).
ARG PYTHON_VERSION=3.13
FROM python:${PYTHON_VERSION}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# The exact versions CI tested (requirements/runtime.txt, hash-checked), then skillstream alone.
COPY requirements/runtime.txt ./requirements/runtime.txt
RUN pip install --no-cache-dir --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
COPY sinks ./sinks
COPY skillstream ./skillstream
RUN pip install --no-cache-dir --no-deps --no-build-isolation . && pip check
RUN useradd --create-home skillstream && mkdir -p /data && chown skillstream /data
USER skillstream
ENV SKILLSTREAM_DATA_DIR=/data
ENTRYPOINT ["skillstream"]
CMD ["--help"]
