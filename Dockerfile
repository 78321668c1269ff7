FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY workers ./workers
COPY config ./config
COPY gunicorn.conf.py ./
RUN pip install --no-cache-dir . && useradd --create-home deploygate
USER deploygate
