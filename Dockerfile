# skillstream's services (worker, sinks, HTTP front door) in one image.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
COPY sinks ./sinks
COPY skillstream ./skillstream
RUN pip install --no-cache-dir ".[postgres]"
RUN useradd --create-home skillstream && mkdir -p /data && chown skillstream /data
USER skillstream
ENV SKILLSTREAM_DATA_DIR=/data
ENTRYPOINT ["skillstream"]
CMD ["--help"]
