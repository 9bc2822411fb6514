-- CreateEnum
CREATE TYPE "SignatureScheme" AS ENUM ('standard_webhooks', 'stripe', 'github');

-- AlterTable
ALTER TABLE "Stream" ADD COLUMN     "signatureScheme" "SignatureScheme",
ADD COLUMN     "signatureSecret" TEXT;
