"""The service's own PostgreSQL store: jobs, their journal, migration bundles, webhook deliveries.

Its schema is a Prisma-style migrations directory (`service/store/migrations`) applied at start-up
with deploy-gate's own Prisma-compatible deploy.
"""
