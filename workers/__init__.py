"""Celery workers: the app, its settings, and thin tasks that take a job id."""
