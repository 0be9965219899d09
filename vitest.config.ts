import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

// One run covers unit, integration (real PostgreSQL + Redis on loopback) and browser e2e
// tests. Integration and e2e tests start real servers, so they get generous timeouts.
// Integration files run two at a time even on a 2-core machine (Vitest's default there is one):
// most of their time is spent waiting on servers, databases and timers, not on a core, and each
// file has its own database, Redis key prefix and ports. The three projects run one after
// another (groupOrder), as Vitest requires when their worker counts differ; browser files run
// one at a time (each starts a server and a chromium of its own).
// expect.poll waits up to 10 s everywhere (Vitest's default is 1 s): what a test polls for
// arrives in milliseconds on a quiet machine, but a loaded CI runner can take longer, and a
// longer wait only slows a test that is failing anyway.
const poll = { expect: { poll: { timeout: 10_000 } } };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          sequence: { groupOrder: 0 },
          include: ["{apps,packages}/*/src/**/*.test.ts", "{apps,packages}/*/test/**/*.test.ts"],
          exclude: ["**/*.integration.test.ts", "**/node_modules/**"],
          testTimeout: 15_000,
          ...poll,
        },
      },
      {
        test: {
          name: "integration",
          maxWorkers: Math.max(2, availableParallelism() - 1),
          sequence: { groupOrder: 1 },
          include: ["{apps,packages}/*/{src,test}/**/*.integration.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          ...poll,
        },
      },
      {
        test: {
          name: "e2e",
          sequence: { groupOrder: 2 },
          include: ["apps/admin/e2e/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 240_000,
          fileParallelism: false,
          ...poll,
        },
      },
    ],
  },
});
