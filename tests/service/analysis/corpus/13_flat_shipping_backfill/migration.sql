-- Shipping becomes its own line on orders. Orders placed before the March price change paid
-- the old flat rate inside the total; finance wants it split out and added to the total.

-- AlterTable
ALTER TABLE "Order" ADD COLUMN     "shippingCents" INTEGER NOT NULL DEFAULT 0;

UPDATE "Order"
SET "shippingCents" = 499,
    "totalCents" = "totalCents" + 499
WHERE "createdAt" < '2024-03-01';
