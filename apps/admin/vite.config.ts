import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/** Paths the API owns; in development the Vite server forwards them to a local API
 * (http://127.0.0.1:3000, or SWITCHBOARD_API_URL). */
const API_PATHS = ["/trpc", "/v1", "/api", "/health", "/ready", "/metrics"];
const API_TARGET = process.env.SWITCHBOARD_API_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  plugins: [react()],
  server: {
    host: "127.0.0.1",
    port: 5173,
    strictPort: true,
    // Same-origin in development too, so the SameSite=Strict session cookies just work.
    proxy: Object.fromEntries(API_PATHS.map((path) => [path, { target: API_TARGET, changeOrigin: false }])),
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The build is served publicly: maps would hand out every first-party source.
    sourcemap: false,
  },
});
