// Summaries of repeated measurements.

export function summary(samples) {
  const values = samples.filter(v => typeof v === "number" && Number.isFinite(v)).sort((a, b) => a - b)
  if (values.length === 0) return null
  return { median: percentile(values, 50), min: values[0], max: values.at(-1), n: values.length }
}

/** The p-th percentile of sorted values (nearest rank, interpolated). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const rank = (p / 100) * (sorted.length - 1)
  const low = Math.floor(rank)
  const high = Math.ceil(rank)
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low)
}

export const median = values =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  )
