-- Notifications of deleted users were never cleaned up; remove them so the foreign key can hold.
DELETE FROM "Notification" n
WHERE NOT EXISTS (SELECT 1 FROM "User" u WHERE u."id" = n."userId");

-- AddForeignKey, unless an earlier attempt of this migration already added it.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint WHERE conname = 'Notification_userId_fkey'
    ) THEN
        ALTER TABLE "Notification" ADD CONSTRAINT "Notification_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
    END IF;
END $$;

-- CreateIndex
CREATE INDEX IF NOT EXISTS "Notification_userId_idx" ON "Notification"("userId");
