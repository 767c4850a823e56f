import { cpSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
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

// Gzip copies of the scripts and style sheets: the gateway sends them to clients that accept gzip.
function precompress(): Plugin {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = resolve(dir, f);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
  return {
    name: "algoitny-precompress",
    apply: "build",
    enforce: "post",
    closeBundle: {
      order: "post",
      handler() {
        for (const file of walk(resolve(here, "dist"))) {
          if (/\.(js|css|html|svg|json)$/.test(file)) writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }));
        }
      },
    },
  };
}

export default defineConfig({
  plugins: [react(), swaggerAssets(), precompress()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 800 },
  server: { proxy: { "/api": "http://127.0.0.1:8000" } },
});
