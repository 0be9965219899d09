// Lint rules for the whole monorepo. One rule carries a design decision: only
// apps/api/src/env.ts may read process.env (config is parsed once, with zod).
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["**/node_modules/**", "**/dist/**", "**/.build-test/**", "**/generated/**", "**/.data/**", "**/.turbo/**"],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "Read configuration in apps/api/src/env.ts only." },
      ],
    },
  },
  {
    // Outside the server process, scripts, tests, benchmarks and the CLI read their own env.
    files: [
      "apps/api/src/env.ts",
      "apps/api/scripts/**",
      "apps/api/bench/**",
      "apps/api/test/**",
      "**/*.test.ts",
      "apps/admin/e2e/**",
      "apps/admin/vite.config.ts",
      "packages/client/bin/**",
      "packages/client/src/cli/**",
      "packages/client/test/**",
      "scripts/**",
      "*.config.ts",
    ],
    rules: { "no-restricted-properties": "off" },
  },
);
