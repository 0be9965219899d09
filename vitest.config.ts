import { defineConfig } from "vitest/config";

// One run covers unit, integration (real PostgreSQL + Redis on loopback) and browser e2e
// tests. Integration and e2e tests start real servers, so they get generous timeouts.
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
          include: ["{apps,packages}/*/src/**/*.test.ts", "{apps,packages}/*/test/**/*.test.ts"],
          exclude: ["**/*.integration.test.ts", "**/node_modules/**"],
          testTimeout: 15_000,
          ...poll,
        },
      },
      {
        test: {
          name: "integration",
          include: ["{apps,packages}/*/{src,test}/**/*.integration.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          ...poll,
        },
      },
      {
        test: {
          name: "e2e",
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
