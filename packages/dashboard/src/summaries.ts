/** How a document reads in a list: one line of it, and its top-level values short enough for a column. */

const TITLE_KEYS = ["title", "name", "label", "subject", "summary", "text", "body"]
const CELL_LENGTH = 60

/** One line for a document in a list: a title-like field, else the first string, else the first fields. */
export function summarize(data: Record<string, unknown>): string {
  for (const key of TITLE_KEYS) {
    const value = data[key]
    if (typeof value === "string" && value.trim()) return clip(value.trim().split("\n")[0]!, 80)
  }
  for (const value of Object.values(data)) {
    if (typeof value === "string" && value.trim()) return clip(value.trim().split("\n")[0]!, 80)
  }
  const scalars = Object.entries(data).filter(([, value]) => typeof value !== "object" || value === null)
  return clip(scalars.map(([key, value]) => `${key}: ${JSON.stringify(value)}`).join(", "), 80)
}

/** The top-level strings, numbers and booleans, strings clipped: what a list's columns show. Lists and maps are left out. */
export function cellsOf(data: Record<string, unknown>): Record<string, string | number | boolean | null> {
  const cells: Record<string, string | number | boolean | null> = {}
  for (const [key, value] of Object.entries(data)) {
    if (typeof value === "string") cells[key] = clip(value.split("\n")[0]!, CELL_LENGTH)
    else if (typeof value === "number" || typeof value === "boolean" || value === null) cells[key] = value
  }
  return cells
}

function clip(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text
}
