-- AlterEnum
ALTER TYPE "EffectKind" ADD VALUE 'cancel';

-- AlterEnum
ALTER TYPE "EffectStatus" ADD VALUE 'cancelled';

-- AlterTable
ALTER TABLE "Effect" ADD COLUMN     "key" TEXT;

-- AlterTable
ALTER TABLE "ReducerVersion" ADD COLUMN     "basedOn" INTEGER,
ADD COLUMN     "startIndex" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "ReducerSnapshot" (
    "streamId" UUID NOT NULL,
    "reducerId" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "folded" INTEGER NOT NULL,
    "state" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ReducerSnapshot_pkey" PRIMARY KEY ("streamId","reducerId","version","folded")
);

-- CreateIndex
CREATE INDEX "ReducerSnapshot_reducerId_folded_idx" ON "ReducerSnapshot"("reducerId", "folded");

-- CreateIndex
CREATE INDEX "Effect_reducerId_key_idx" ON "Effect"("reducerId", "key");

-- AddForeignKey
ALTER TABLE "ReducerSnapshot" ADD CONSTRAINT "ReducerSnapshot_reducerId_fkey" FOREIGN KEY ("reducerId") REFERENCES "Reducer"("id") ON DELETE CASCADE ON UPDATE CASCADE;
