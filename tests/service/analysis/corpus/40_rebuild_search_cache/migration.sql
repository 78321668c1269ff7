-- The search cache is rebuilt by the nightly job, and its rows still show prices in dollars:
-- empty it rather than convert it.
-- deploy-gate-ignore truncate -- a cache, rebuilt from Product every night
TRUNCATE TABLE "ProductSearchCache";

-- AlterTable
ALTER TABLE "ProductSearchCache" ADD COLUMN     "priceCents" INTEGER NOT NULL;
