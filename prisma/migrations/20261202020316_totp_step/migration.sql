-- AlterTable
ALTER TABLE "User" ADD COLUMN     "totpStep" INTEGER;
