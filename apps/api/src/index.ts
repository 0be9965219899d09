// The api package's public surface: the router type for typed clients (type-only imports).
export type { AppRouter } from "./routers/index.ts";
