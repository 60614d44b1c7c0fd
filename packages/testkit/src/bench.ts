/** Small helpers shared by the benchmark scripts. */

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))]
}

/** Runs `count` jobs with at most `concurrency` at once; resolves with their results in order. */
export async function runConcurrently<T> (count: number, concurrency: number, job: (index: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++
      results[index] = await job(index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return results
}

/** Prints rows as an aligned Markdown table. */
export function printTable (rows: Array<Record<string, string | number>>): void {
  if (rows.length === 0) return
  const columns = Object.keys(rows[0])
  const cell = (value: string | number | undefined): string => typeof value === 'number' ? formatNumber(value) : (value ?? '')
  const widths = columns.map(c => Math.max(c.length, ...rows.map(r => cell(r[c]).length)))
  const line = (values: string[]): string => `| ${values.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`
  process.stdout.write([
    line(columns),
    line(widths.map(w => '-'.repeat(w))),
    ...rows.map(r => line(columns.map(c => cell(r[c]))))
  ].join('\n') + '\n')
}

function formatNumber (value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en-US')
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2)
}
