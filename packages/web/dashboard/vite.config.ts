// The dashboard page that a node peer serves (`cairn serve`). Built into
// packages/web/dist/dashboard, beside the package's compiled code, so the
// build cache and the published files carry it with the rest of dist.
import { fileURLToPath } from "node:url"
import { defineConfig } from "vite"

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  build: {
    outDir: fileURLToPath(new URL("../dist/dashboard", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
  },
  server: {
    // `npm run dev:dashboard -w @cairn/web` to work on the page, with a peer serving the API at 3030 (`npm start`).
    proxy: { "/api": "http://127.0.0.1:3030" },
  },
})
