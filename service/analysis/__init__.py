"""What the decision engine and the pre-deploy gate know about a migration.

Everything here comes from PostgreSQL's own parser (pglast, i.e. libpg_query, with its PL/pgSQL
parser for DO blocks) and, for the effect probe and rollback verification, from a live catalog.
No module imports Flask or Celery; live checks take a psycopg connection as an argument.
"""
