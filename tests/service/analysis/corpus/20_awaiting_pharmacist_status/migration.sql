-- Paid orders that contain a prescription product wait for a pharmacist before shipping.

-- AlterEnum
ALTER TYPE "OrderStatus" ADD VALUE 'AWAITING_PHARMACIST';

-- Move the paid orders that are already in that situation.
UPDATE "Order" o
SET "status" = 'AWAITING_PHARMACIST'
WHERE o."status" = 'PAID'
  AND EXISTS (
      SELECT 1
      FROM "OrderItem" oi
      JOIN "Product" p ON p."id" = oi."productId"
      WHERE oi."orderId" = o."id" AND p."sku" IN (SELECT "ndc" FROM "Medication")
  );
