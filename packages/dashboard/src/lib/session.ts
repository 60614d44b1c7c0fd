/** Secrets live in sessionStorage only: gone when the tab closes, never in localStorage or cookies. */
const KEYS = { apiKey: 'dria.api_key', adminToken: 'dria.admin_token' } as const

export type SecretName = keyof typeof KEYS

export function loadSecret (name: SecretName): string | undefined {
  return sessionStorage.getItem(KEYS[name]) ?? undefined
}

export function saveSecret (name: SecretName, value: string | undefined): void {
  if (value === undefined) sessionStorage.removeItem(KEYS[name])
  else sessionStorage.setItem(KEYS[name], value)
}
