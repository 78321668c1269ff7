-- Refunds look orders up by the payment processor's reference.
ALTER TABLE "Order" ADD COLUMN IF NOT EXISTS "paymentReference" TEXT;

CREATE UNIQUE INDEX IF NOT EXISTS "Order_paymentReference_key" ON "Order"("paymentReference");

-- Rollback: DROP INDEX IF EXISTS "Order_paymentReference_key";
-- ALTER TABLE "Order" DROP COLUMN IF EXISTS "paymentReference";
