-- CreateTable
CREATE TABLE "ReplayPreview" (
    "id" UUID NOT NULL,
    "streamId" UUID NOT NULL,
    "reducerId" UUID NOT NULL,
    "teamId" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "code" TEXT NOT NULL,
    "initialState" JSONB,
    "until" INTEGER NOT NULL,
    "folded" INTEGER NOT NULL DEFAULT 0,
    "status" TEXT NOT NULL DEFAULT 'running',
    "error" JSONB,
    "finalState" JSONB,
    "effects" JSONB NOT NULL DEFAULT '[]',
    "effectCounts" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "ReplayPreview_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ReplayPreview_reducerId_createdAt_idx" ON "ReplayPreview"("reducerId", "createdAt");

-- AddForeignKey
ALTER TABLE "ReplayPreview" ADD CONSTRAINT "ReplayPreview_reducerId_fkey" FOREIGN KEY ("reducerId") REFERENCES "Reducer"("id") ON DELETE CASCADE ON UPDATE CASCADE;
