-- New products start hidden until the pharmacy has reviewed them, and descriptions get a limit
-- the storefront can lay out. Undo the isActive default only together with the review queue.

-- AlterTable
ALTER TABLE "Product" ALTER COLUMN "isActive" SET DEFAULT false,
ALTER COLUMN "description" SET DATA TYPE VARCHAR(5000);

-- AlterTable
ALTER TABLE "Appointment" ALTER COLUMN "providerDisplayName" DROP NOT NULL;
