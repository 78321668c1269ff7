-- Orders can be sent as gifts, with an optional message printed on the packing slip.

-- AlterTable
ALTER TABLE "Order" ADD COLUMN     "giftMessage" VARCHAR(500),
ADD COLUMN     "isGift" BOOLEAN NOT NULL DEFAULT false;

-- Hand-written: Prisma cannot express CHECK constraints.
ALTER TABLE "Order" ADD CONSTRAINT "Order_giftMessage_requires_gift" CHECK ("giftMessage" IS NULL OR "isGift");

-- ROLLBACK SQL (for reference):
-- ALTER TABLE "Order"
--     DROP CONSTRAINT IF EXISTS "Order_giftMessage_requires_gift";
-- ALTER TABLE "Order"
--     DROP COLUMN IF EXISTS "giftMessage",
--     DROP COLUMN IF EXISTS "isGift";
