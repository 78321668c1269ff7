"""Prisma Migrate's history on PostgreSQL, read and written exactly as Prisma does.

Modules take a psycopg connection (autocommit) as an argument; none imports Flask or Celery.
"""
