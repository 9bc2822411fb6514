-- AlterTable
ALTER TABLE "Team" ADD COLUMN     "maxStreams" INTEGER,
ADD COLUMN     "rateLimitPerMinute" INTEGER;
