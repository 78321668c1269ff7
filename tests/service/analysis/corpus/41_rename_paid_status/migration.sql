-- "Paid" was ambiguous next to refunds; the payment processor calls it "captured".

-- AlterEnum
ALTER TYPE "OrderStatus" RENAME VALUE 'PAID' TO 'PAYMENT_CAPTURED';
