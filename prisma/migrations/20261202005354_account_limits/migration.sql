-- AlterTable
ALTER TABLE "Team" ADD COLUMN     "accountId" UUID;

-- AlterTable
ALTER TABLE "User" ADD COLUMN     "emailQuotaPerDay" INTEGER,
ADD COLUMN     "maxTeams" INTEGER,
ADD COLUMN     "rateLimitPerMinute" INTEGER;

-- CreateIndex
CREATE INDEX "Team_accountId_idx" ON "Team"("accountId");

-- AddForeignKey
ALTER TABLE "Team" ADD CONSTRAINT "Team_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- Existing teams: the account is the owner (the earliest, should a team have several).
UPDATE "Team" t SET "accountId" = (
  SELECT m."userId" FROM "Membership" m WHERE m."teamId" = t."id" AND m."role" = 'owner' ORDER BY m."createdAt", m."userId" LIMIT 1
);
