-- Store product prices as integer cents like every other amount in the schema.
-- Converted in place so the column keeps its position and its history in the audit tables.

UPDATE "Product" SET "price" = "price" * 100 WHERE "price" IS NOT NULL;

-- AlterTable
ALTER TABLE "Product" ALTER COLUMN "price" SET DATA TYPE INTEGER;

-- AlterTable
ALTER TABLE "Product" RENAME COLUMN "price" TO "priceCents";
