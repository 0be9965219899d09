import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const versionOf = (name: string) => (require(`${name}/package.json`) as { version: string }).version;

describe("Prisma", () => {
  // The client is generated at install by the prisma CLI and runs on @prisma/client's runtime:
  // Prisma supports only the pair of one release, and npm resolves each range on its own.
  it("runs the client on the runtime of the CLI release that generated it", () => {
    expect(versionOf("@prisma/client")).toBe(versionOf("prisma"));
  });
});
