/**
 * The failures the driver adapter hands on bare, outside a Prisma error (a transaction's
 * COMMIT), are told apart like the wrapped ones: a lost connection is the database's passing
 * state (503), a lost serialization race a conflict (409), anything else neither.
 */
import { DriverAdapterError } from "@prisma/driver-adapter-utils";
import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable, isTransactionConflict } from "./database-errors.ts";

describe("bare driver adapter errors", () => {
  it("a connection lost at COMMIT is the database unavailable, not a conflict", () => {
    for (const cause of [{ kind: "ConnectionClosed" }, { kind: "DatabaseNotReachable" }, { kind: "postgres", code: "57P01", originalCode: "57P01", originalMessage: "terminating connection", severity: "FATAL", message: "terminating connection" }] as const) {
      const error = new DriverAdapterError(cause as never);
      expect(isDatabaseUnavailable(error)).toBe(true);
      expect(isTransactionConflict(error)).toBe(false);
    }
  });

  it("a serialization failure at COMMIT is a conflict, not an outage", () => {
    const error = new DriverAdapterError({ kind: "TransactionWriteConflict" } as never);
    expect(isTransactionConflict(error)).toBe(true);
    expect(isDatabaseUnavailable(error)).toBe(false);
  });

  it("another failure is neither", () => {
    const error = new DriverAdapterError({ kind: "UniqueConstraintViolation", constraint: { fields: ["email"] } } as never);
    expect(isDatabaseUnavailable(error)).toBe(false);
    expect(isTransactionConflict(error)).toBe(false);
  });
});
