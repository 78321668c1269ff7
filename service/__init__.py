"""deploy-gate: gate deployments on the health of Prisma migrations in PostgreSQL."""
