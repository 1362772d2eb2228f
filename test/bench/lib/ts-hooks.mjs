// Module hooks that let the runner import the test helpers written in
// TypeScript (test/helpers/WireTap.ts): types are erased with the
// TypeScript compiler the repository already has.
import { readFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import ts from "typescript"

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return nextLoad(url, context)
  const source = await readFile(fileURLToPath(url), "utf8")
  const { outputText } = ts.transpileModule(source, {
    fileName: fileURLToPath(url),
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
  })
  return { format: "module", source: outputText, shortCircuit: true }
}
