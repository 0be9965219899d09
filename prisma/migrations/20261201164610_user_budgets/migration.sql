-- AlterTable
ALTER TABLE "User" ADD COLUMN     "budgetPeriod" TEXT NOT NULL DEFAULT 'month',
ADD COLUMN     "budgetUsd" DOUBLE PRECISION;
