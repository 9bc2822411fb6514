-- Idempotency keys belong to their sender (scope) and remember the body they came with.
-- Records from before this change keep working for their 24 hours under the empty scope.
ALTER TABLE "IdempotencyRecord" DROP CONSTRAINT "IdempotencyRecord_pkey",
ADD COLUMN     "bodyHash" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "scope" TEXT NOT NULL DEFAULT '',
ADD CONSTRAINT "IdempotencyRecord_pkey" PRIMARY KEY ("streamId", "scope", "key");

ALTER TABLE "IdempotencyRecord" ALTER COLUMN "bodyHash" DROP DEFAULT, ALTER COLUMN "scope" DROP DEFAULT;
