-- Coupons for the pharmacy storefront.
-- Written to be re-runnable (see MIGRATION_ROLLBACK.md): every step checks before it creates.

-- CreateEnum
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'DiscountType') THEN
        CREATE TYPE "DiscountType" AS ENUM ('PERCENT', 'FIXED_AMOUNT', 'FREE_SHIPPING');
    END IF;
END $$;

-- CreateTable
CREATE TABLE IF NOT EXISTS "Coupon" (
    "id" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "discountType" "DiscountType" NOT NULL,
    "amount" INTEGER NOT NULL,
    "validFrom" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "validUntil" TIMESTAMP(3),
    "maxRedemptions" INTEGER,

    CONSTRAINT "Coupon_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX IF NOT EXISTS "Coupon_code_key" ON "Coupon"("code");

-- AlterTable
ALTER TABLE "Order" ADD COLUMN IF NOT EXISTS "couponId" TEXT;

-- AddForeignKey
DO $$
BEGIN
    ALTER TABLE "Order" ADD CONSTRAINT "Order_couponId_fkey" FOREIGN KEY ("couponId") REFERENCES "Coupon"("id") ON DELETE SET NULL ON UPDATE CASCADE;
EXCEPTION
    WHEN duplicate_object THEN null;
END $$;

-- ============================================================
-- === ROLLBACK SQL ===
-- ============================================================
--
-- Detach orders from coupons first: the foreign key points at the table we drop below.
-- ALTER TABLE "Order" DROP CONSTRAINT IF EXISTS "Order_couponId_fkey";
-- ALTER TABLE "Order" DROP COLUMN IF EXISTS "couponId";
--
-- Dropping the table also drops Coupon_code_key.
-- DROP TABLE IF EXISTS "Coupon";
--
-- Only once no table uses the type any more.
-- DROP TYPE IF EXISTS "DiscountType";
