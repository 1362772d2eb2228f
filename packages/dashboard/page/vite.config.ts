// The dashboard page that DashboardServer serves (`cairn serve`). Built into
// this package's dist/page, beside the server's compiled code, so the build
// cache and the published files carry it with the rest of dist.
import { fileURLToPath } from "node:url"
import { defineConfig } from "vite"

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  build: {
    outDir: fileURLToPath(new URL("../dist/page", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
  },
  server: {
    // `npm run dev -w @cairn/dashboard` to work on the page, with a peer serving the API at 3030 (`npm start`).
    proxy: { "/api": "http://127.0.0.1:3030" },
  },
})
