// The pnpm release package.json pins: the one running this script, the one on PATH if it is
// that release, else npx's (npm fetches it from the registry; no corepack needed).
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

export const ROOT = new URL('..', import.meta.url)

export function pnpmCommand () {
  const version = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')).packageManager.replace(/^pnpm@/, '')
  const running = process.env.npm_execpath
  if (running !== undefined && /pnpm/.test(running) && process.env.npm_config_user_agent?.startsWith(`pnpm/${version} `)) return [process.execPath, [running]]
  const onPath = spawnSync('pnpm', ['--version'], { encoding: 'utf8', shell: process.platform === 'win32' })
  if (onPath.status === 0 && onPath.stdout.trim() === version) return ['pnpm', []]
  return ['npx', ['--yes', `pnpm@${version}`]]
}
