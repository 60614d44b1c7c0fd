const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 })

export const formatInt = (value: number): string => integer.format(value)

export function formatRate (perSecond: number | null): string {
  if (perSecond === null || !Number.isFinite(perSecond)) return '—'
  return perSecond >= 100 ? integer.format(perSecond) : decimal.format(perSecond)
}

export function formatBytes (bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++ }
  return `${decimal.format(value)} ${units[unit]}`
}

/** 45 s, 12 min, 3 h 5 min, 2 d 4 h. */
export function formatDuration (seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '—'
  if (seconds < 60) return `${Math.round(seconds)} s`
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `${minutes} min`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return `${hours} h ${minutes % 60} min`
  return `${Math.floor(hours / 24)} d ${hours % 24} h`
}

export function formatTime (unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toLocaleString()
}

/** The first and last characters of a long id. */
export function shortId (id: string, keep = 8): string {
  return id.length <= keep * 2 + 1 ? id : `${id.slice(0, keep)}…${id.slice(-keep)}`
}

/** A model digest without its algorithm prefix, shortened. */
export function shortDigest (digest: string): string {
  return shortId(digest.replace(/^sha256:/, ''), 6)
}
