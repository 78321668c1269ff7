-- Support staff get the admin console now; SUPPORT goes away as a role.
-- Hand-written instead of Prisma's generated version so the existing SUPPORT users are moved
-- to ADMIN first rather than failing the cast.
UPDATE "User" SET "role" = 'ADMIN' WHERE "role" = 'SUPPORT';

-- AlterEnum
ALTER TYPE "Role" RENAME TO "Role_old";
CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN', 'PHARMACIST');
ALTER TABLE "User" ALTER COLUMN "role" DROP DEFAULT;
ALTER TABLE "User" ALTER COLUMN "role" TYPE "Role" USING ("role"::text::"Role");
ALTER TABLE "User" ALTER COLUMN "role" SET DEFAULT 'USER';
DROP TYPE "Role_old";
