-- Line totals are stored so refunds can be computed per line. The column and its backfill commit
-- together so no reader sees a line without its total; the index is built afterwards.
BEGIN;

ALTER TABLE "OrderItem" ADD COLUMN "lineTotalCents" INTEGER;

UPDATE "OrderItem" SET "lineTotalCents" = "quantity" * "unitPriceCents";

COMMIT;

CREATE INDEX "OrderItem_productId_idx" ON "OrderItem"("productId");
