"""Facts about one migration, as plain data: effects, transactional, idempotent, reversible.

- *effects*: every object the migration creates, drops, alters or renames (kind, schema, name, the
  table or type it belongs to, enum labels), and the data statements it runs.
- *transactional*: Prisma sends the file as one simple-query string, one implicit transaction, so a
  failure leaves nothing behind, unless the file controls transactions itself, or holds statements
  PostgreSQL refuses or runs outside a transaction block (CONCURRENTLY, VACUUM, …), or adds an enum
  value and uses it in the same transaction (55P04).
- *idempotent*: every statement can run twice: `IF [NOT] EXISTS`, `OR REPLACE`, a DO block that
  checks the catalog or swallows the duplicate error, DML whose WHERE skips the rows already done.
- *reversible*: each effect has a known inverse; drops, type changes, enum values and data changes
  do not.

`analyze.analyze_migration` gathers them into a `records.MigrationFacts`; `statements` describes one
statement's effects, `dml_idempotence` judges whether a data statement can run twice, and
`transactions` finds what breaks the file's one transaction.
"""
