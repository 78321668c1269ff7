-- CreateTable
CREATE TABLE "InventoryLevel" (
    "id" TEXT NOT NULL,
    "productId" TEXT NOT NULL,
    "warehouseCode" TEXT NOT NULL,
    "quantity" INTEGER NOT NULL DEFAULT 0,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "InventoryLevel_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "InventoryLevel_productId_warehouseCode_key" ON "InventoryLevel"("productId", "warehouseCode");

-- AddForeignKey
ALTER TABLE "InventoryLevel" ADD CONSTRAINT "InventoryLevel_productId_fkey" FOREIGN KEY ("productId") REFERENCES "Product"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Move the stock counts off Product into the main warehouse. Counts already recorded there by
-- the warehouse sync are added to, not overwritten.
INSERT INTO "InventoryLevel" ("id", "productId", "warehouseCode", "quantity", "updatedAt")
SELECT 'inv_' || "id", "id", 'MAIN', "stockQuantity", CURRENT_TIMESTAMP
FROM "Product"
ON CONFLICT ("productId", "warehouseCode")
DO UPDATE SET "quantity" = "InventoryLevel"."quantity" + EXCLUDED."quantity";
