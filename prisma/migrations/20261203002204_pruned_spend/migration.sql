-- CreateTable
CREATE TABLE "PrunedSpend" (
    "subject" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "costUsd" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "requests" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "PrunedSpend_pkey" PRIMARY KEY ("subject","day")
);
