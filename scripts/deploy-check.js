// The production bundles the Docker images are built from (`pnpm deploy --prod`, as in
// docker/Dockerfile), checked outside the repository: a coordinator and a node started from
// them join up and the coordinator lists the node's model. Run by .ci/run (there is no Docker
// engine in CI to build the images themselves).
import '../packages/protocol/dist/polyfill.js'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnDria, tempDir } from '../packages/testkit/dist/index.js'
import { ROOT, pnpmCommand } from './pnpm.js'

const dir = await tempDir('dria-deploy-')
const processes = []
const log = message => process.stdout.write(`${message}\n`)
try {
  const [command, prefix] = pnpmCommand()
  for (const pkg of ['node', 'coordinator']) {
    const result = spawnSync(command, [...prefix, '--filter', `@dria/${pkg}`, 'deploy', '--legacy', '--prod', join(dir.path, pkg)], { cwd: fileURLToPath(ROOT), stdio: ['ignore', 'ignore', 'inherit'] })
    if (result.status !== 0) throw new Error(`pnpm deploy of @dria/${pkg} failed`)
    log(`deployed @dria/${pkg} to ${join(dir.path, pkg)}`)
  }
  const bin = { node: join(dir.path, 'node', 'bin', 'dria-node.js'), coordinator: join(dir.path, 'coordinator', 'bin', 'dria-coordinator.js') }
  const coordinator = spawnDria('coordinator', ['start', '--port', '0', '--p2p-port', '0', '--data-dir', join(dir.path, 'coordinator-data')], { binary: bin.coordinator, env: { DRIA_API_KEYS: 'deploy-check' } })
  processes.push(coordinator)
  const ready = await coordinator.waitFor('coordinator ready', { timeoutMs: 60_000 })
  const node = spawnDria('node', ['start', '--engine', 'llamacpp', '--demo-model', '--threads', '1', '--status-port', '0', '--data-dir', join(dir.path, 'node-data'), '--bootstrap', ready.multiaddrs[0]], { binary: bin.node })
  processes.push(node)
  await node.waitFor('node ready', { timeoutMs: 60_000 })
  let models = []
  for (let i = 0; i < 100 && models.length === 0; i++) {
    const response = await fetch(`${ready.url}/v1/models`, { headers: { authorization: 'Bearer deploy-check' } })
    models = (await response.json()).data.filter(m => m.nodes >= 1)
    if (models.length === 0) await new Promise(resolve => setTimeout(resolve, 200))
  }
  if (!models.some(m => m.id === 'dria-tiny')) throw new Error('the coordinator never listed the node\'s model')
  log('deploy check passed: coordinator and node from the bundles, the node\'s model listed by the coordinator')
} finally {
  await Promise.all(processes.map(p => p.stop()))
  await dir.remove()
}
