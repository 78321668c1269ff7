"""Prisma Migrate's history on PostgreSQL, read and written exactly as Prisma does.

Modules take a psycopg connection (autocommit) as an argument; none imports Flask or Celery.
"""

# Prisma gives up waiting for its advisory lock after 10 s; deploy-gate waits as long by default.
# Kept here, free of psycopg, so commands that never connect can name it without loading a driver.
DEFAULT_LOCK_WAIT_SECONDS = 10.0
