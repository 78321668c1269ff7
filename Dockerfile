FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY workers ./workers
COPY config ./config
COPY gunicorn.conf.py ./
# The service: the base package is the CLI alone (the light client builds install).
RUN pip install --no-cache-dir '.[server]' && useradd --create-home deploygate
USER deploygate
