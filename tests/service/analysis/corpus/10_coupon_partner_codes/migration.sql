-- Partner clinics hand out their own coupon codes; a code is unique per partner, not globally.

-- AlterTable
ALTER TABLE "Coupon" ADD COLUMN IF NOT EXISTS "partnerCode" TEXT;

-- Re-runnable the same way as the foreign keys: swallow the error if the constraint exists.
DO $$
BEGIN
    ALTER TABLE "Coupon" ADD CONSTRAINT "Coupon_partnerCode_code_key" UNIQUE ("partnerCode", "code");
EXCEPTION
    WHEN duplicate_object THEN null;
END $$;
