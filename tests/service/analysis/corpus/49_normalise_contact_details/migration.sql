-- Sign-in compares emails in lower case, and SMS needs phone numbers with their country code:
-- normalise what is stored, once, then keep phone numbers unique.

UPDATE "User" SET "email" = lower("email") WHERE "email" <> lower("email");

UPDATE "Patient" SET "phoneE164" = '+1' || "phoneE164" WHERE "phoneE164" !~ '^\+';

-- CreateIndex
CREATE UNIQUE INDEX IF NOT EXISTS "Patient_phoneE164_key" ON "Patient"("phoneE164");

-- Rollback: DROP the new unique indexes …
