-- AlterTable
ALTER TABLE "EmailMessage" ADD COLUMN     "recipients" INTEGER NOT NULL DEFAULT 1;

-- CreateIndex
CREATE INDEX "Effect_teamId_kind_status_reducerId_idx" ON "Effect"("teamId", "kind", "status", "reducerId");

-- Emails of the last day count as many recipients as their `to` lists (stored comma-separated).
UPDATE "EmailMessage" SET "recipients" = greatest(1, coalesce(array_length(string_to_array("to", ','), 1), 1)) WHERE "createdAt" > now() - interval '1 day';
