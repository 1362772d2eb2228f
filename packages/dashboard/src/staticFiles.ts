/**
 * The built dashboard page (Vite's output, this package's dist/page):
 * finding it on disk, and serving its files without ever leaving its
 * folder.
 */
import { createReadStream, existsSync } from "node:fs"
import { stat } from "node:fs/promises"
import type { IncomingMessage, ServerResponse } from "node:http"
import { extname, join, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
}

/** The page may load only its own files and talk only to its own server; no other site may frame it. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

/**
 * The folder of the built page: the package's `dist/page` (its build puts
 * it there; the path holds from `src` as from `dist`), or `dir` when given.
 * Undefined when it holds no built page.
 */
export function locateDashboard(dir: string = fileURLToPath(new URL("../dist/page", import.meta.url))): string | undefined {
  const candidate = resolve(dir)
  return existsSync(join(candidate, "index.html")) ? candidate : undefined
}

/** Serve `pathname` from `root` (index.html for "/"). Resolves false when there is no such file. */
export async function serveStatic(root: string, pathname: string, request: IncomingMessage, response: ServerResponse): Promise<boolean> {
  const base = resolve(root)
  const relative = pathname === "/" ? "index.html" : pathname.slice(1)
  const file = resolve(base, relative)
  if (relative.includes("\0") || !file.startsWith(base + sep)) return false
  const info = await stat(file).catch(() => undefined)
  if (!info?.isFile()) return false
  const isHtml = extname(file) === ".html"
  response.writeHead(200, {
    "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
    "Content-Length": info.size,
    // Vite puts a content hash in every asset's name, so assets never change; the page itself must be re-checked.
    "Cache-Control": relative.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache",
    "X-Content-Type-Options": "nosniff",
    ...(isHtml ? { "Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer" } : {}),
  })
  if (request.method === "HEAD") {
    response.end()
    return true
  }
  await new Promise<void>(done => {
    const stream = createReadStream(file)
    stream.on("error", () => {
      response.destroy()
      done()
    })
    stream.on("end", done)
    stream.pipe(response)
  })
  return true
}

/** What "/" shows when the page was never built. */
export const NOT_BUILT_PAGE = `<!doctype html>
<meta charset="utf-8"><title>Cairn dashboard not built</title>
<body style="font: 16px/1.5 system-ui, sans-serif; max-width: 40em; margin: 3em auto">
<h1>The Cairn dashboard is not built</h1>
<p>This peer is running, but it found no built dashboard page (<code>@cairn/dashboard</code>, <code>dist/page</code>).
Build it from the Cairn repository with <code>npm run build</code> and reload this page.</p>
<p>The JSON API works meanwhile: <a href="/api/overview">/api/overview</a>.</p>
</body>
`
