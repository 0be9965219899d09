/**
 * Files the server reads from the repository layout: prisma/ (migrations, schema) and the
 * admin build. The same code runs from apps/api/src (tsx, tests) and bundled into
 * apps/api/dist, at different depths, so the root is found by walking up from this module
 * to the folder holding prisma/schema.prisma instead of counting "../" segments.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRepoRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "prisma", "schema.prisma"))) return dir;
    if (dirname(dir) === dir) break;
  }
  // No prisma/ anywhere above: answer the source layout's root, so errors name a real path.
  return fileURLToPath(new URL("../../../../", import.meta.url));
}

/** The repository (or image) root: the folder holding prisma/ and apps/. */
export const repoRoot = findRepoRoot();
export const prismaDir = join(repoRoot, "prisma");
export const adminDistDir = join(repoRoot, "apps", "admin", "dist");
/** The api's package.json (its version is the server's version). */
export const apiManifestPath = join(repoRoot, "apps", "api", "package.json");
