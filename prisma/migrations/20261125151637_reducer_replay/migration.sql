-- AlterTable
ALTER TABLE "ReducerState" ADD COLUMN     "replayCursor" INTEGER,
ADD COLUMN     "replayState" JSONB,
ADD COLUMN     "replayUntil" INTEGER,
ADD COLUMN     "replayVersion" INTEGER;
