-- Gift cards can be redeemed against an order, alone or together with a coupon.

-- CreateTable
CREATE TABLE "GiftCard" (
    "id" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "balanceCents" INTEGER NOT NULL,
    "expiresAt" TIMESTAMP(3)
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "GiftCard_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "GiftCard_code_key" ON "GiftCard"("code");

-- ROLLBACK SQL (for reference):
-- DROP TABLE IF EXISTS "GiftCard";
