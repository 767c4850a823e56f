import { cpSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

const here = dirname(fileURLToPath(import.meta.url));

// Swagger UI for the gateway's /docs, served from the platform itself (works offline).
function swaggerAssets(): Plugin {
  const files = ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"];
  return {
    name: "algoitny-swagger-assets",
    apply: "build",
    closeBundle() {
      const src = resolve(here, "node_modules/swagger-ui-dist");
      const out = resolve(here, "dist/swagger-ui");
      mkdirSync(out, { recursive: true });
      for (const f of files) cpSync(resolve(src, f), resolve(out, f));
    },
  };
}

export default defineConfig({
  plugins: [react(), swaggerAssets()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 800 },
  server: { proxy: { "/api": "http://127.0.0.1:8000" } },
});
