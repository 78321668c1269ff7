"""A squashed Prisma baseline of any size: what `prisma migrate diff --from-empty` writes for a large schema.

Enums, tables (text ids, enum columns with defaults, timestamps, JSONB), unique and plain indexes,
and foreign keys, each under Prisma's `-- CreateEnum` / `-- CreateTable` / `-- CreateIndex` /
`-- AddForeignKey` comments, in Prisma's order. One enum in ten later gains a value (`ALTER TYPE …
ADD VALUE`), as a squashed history keeps it, so the checks that follow an added value through the
rest of the file get work. The text is the same for the same size: runs compare like with like.

    python bench/prisma_baseline.py 1 > baseline.sql     # about 1 MiB
"""

from __future__ import annotations

import sys

MIB = 1024 * 1024
_TABLES_PER_ENUM = 3


def _enum(number: int) -> str:
    values = ", ".join(f"'STATE_{number}_{value}'" for value in range(5))
    return f'-- CreateEnum\nCREATE TYPE "Status{number}" AS ENUM ({values});\n\n'


def _table(number: int) -> str:
    enum = number // _TABLES_PER_ENUM
    return (
        "-- CreateTable\n"
        f'CREATE TABLE "Model{number}" (\n'
        '    "id" TEXT NOT NULL,\n'
        f'    "ownerId" TEXT{" NOT NULL" if number else ""},\n'
        '    "name" TEXT NOT NULL,\n'
        '    "slug" VARCHAR(191) NOT NULL,\n'
        f'    "status" "Status{enum}" NOT NULL DEFAULT \'STATE_{enum}_0\',\n'
        '    "amount" DECIMAL(65,30) NOT NULL DEFAULT 0,\n'
        '    "counter" INTEGER NOT NULL DEFAULT 0,\n'
        '    "metadata" JSONB,\n'
        '    "deletedAt" TIMESTAMP(3),\n'
        '    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,\n'
        '    "updatedAt" TIMESTAMP(3) NOT NULL,\n'
        "\n"
        f'    CONSTRAINT "Model{number}_pkey" PRIMARY KEY ("id")\n'
        ");\n\n"
    )


def _indexes(number: int) -> str:
    return (
        "-- CreateIndex\n"
        f'CREATE UNIQUE INDEX "Model{number}_slug_key" ON "Model{number}"("slug");\n\n'
        "-- CreateIndex\n"
        f'CREATE INDEX "Model{number}_ownerId_status_idx" ON "Model{number}"("ownerId", "status");\n\n'
    )


def _foreign_key(number: int) -> str:
    owner = number - 1
    return (
        "-- AddForeignKey\n"
        f'ALTER TABLE "Model{number}" ADD CONSTRAINT "Model{number}_ownerId_fkey" FOREIGN KEY ("ownerId") '
        f'REFERENCES "Model{owner}"("id") ON DELETE RESTRICT ON UPDATE CASCADE;\n\n'
    )


def _added_value(enum: int) -> str:
    return f"-- AlterEnum\nALTER TYPE \"Status{enum}\" ADD VALUE 'STATE_{enum}_ARCHIVED';\n\n"


def baseline_sql(target_bytes: int) -> str:
    """A Prisma-style baseline of at least `target_bytes` (UTF-8), whole statements only."""
    # Prisma writes every enum, then every table, every index, every foreign key: build groups of
    # tables until the size is reached, then lay them out in that order.
    enums: list[str] = []
    tables: list[str] = []
    indexes: list[str] = []
    foreign_keys: list[str] = []
    added_values: list[str] = []
    size = 0
    number = 0
    while size < target_bytes:
        parts = []
        if number % _TABLES_PER_ENUM == 0:
            enum = number // _TABLES_PER_ENUM
            enums.append(_enum(enum))
            parts.append(enums[-1])
            if enum % 10 == 5:
                added_values.append(_added_value(enum))
                parts.append(added_values[-1])
        tables.append(_table(number))
        indexes.append(_indexes(number))
        parts += [tables[-1], indexes[-1]]
        if number:
            foreign_keys.append(_foreign_key(number))
            parts.append(foreign_keys[-1])
        size += sum(len(part) for part in parts)
        number += 1
    return "".join(enums + added_values + tables + indexes + foreign_keys)


if __name__ == "__main__":
    sys.stdout.write(baseline_sql(int(float(sys.argv[1] if len(sys.argv) > 1 else "1") * MIB)))
