-- CreateTable
CREATE TABLE "TagBudget" (
    "tag" TEXT NOT NULL,
    "budgetUsd" DOUBLE PRECISION NOT NULL,
    "budgetPeriod" TEXT NOT NULL DEFAULT 'month',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "TagBudget_pkey" PRIMARY KEY ("tag")
);
