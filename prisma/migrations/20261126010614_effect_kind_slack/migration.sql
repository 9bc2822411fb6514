-- AlterEnum
ALTER TYPE "EffectKind" ADD VALUE 'slack';
