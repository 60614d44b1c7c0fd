// The README's first command: a coordinator and two nodes on this machine, one batch through
// the HTTP API, progress, and where the results are. Works with nothing but Node and npm:
// the nodes generate their own tiny model when no GGUF file is given.
import '../packages/protocol/dist/polyfill.js'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { DriaClient } from '../packages/cli/dist/index.js'
import { SHARED_MODELS_DIR, startCoordinatorProcess, startNodeProcess, tempDir } from '../packages/testkit/dist/index.js'

const API_KEY = 'demo-key'
const LINES = Number(process.env.DEMO_LINES ?? 40)
const topics = ['a brave little cat', 'a robot who learns to paint', 'the moon and a fox', 'a lost red balloon', 'two friends and a boat']

function log (message) { process.stdout.write(`${message}\n`) }

const dir = await tempDir('dria-demo-')
const processes = []
const stopAll = async () => { await Promise.all(processes.map(p => p.stop())) }
process.once('SIGINT', () => { stopAll().finally(() => process.exit(130)) })

try {
  log('starting a coordinator...')
  const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'coordinator'), apiKeys: [API_KEY] })
  processes.push(coordinator)
  log(`  API ${coordinator.url}, peer ${coordinator.multiaddrs[0]}`)

  // A real small model when ../shared has one; otherwise the nodes generate their own tiny model.
  const sharedModel = 'stories260K-chat'
  const hasShared = existsSync(join(SHARED_MODELS_DIR, `${sharedModel}.gguf`))
  const modelArgs = hasShared ? ['--models-dir', SHARED_MODELS_DIR, '--models', sharedModel] : ['--demo-model']
  log(`starting two nodes (llama.cpp engine, ${hasShared ? sharedModel : 'the generated demo model'})...`)
  const nodes = await Promise.all([1, 2].map(i => startNodeProcess({
    dataDir: join(dir.path, `node-${i}`),
    bootstrap: coordinator.multiaddrs,
    args: ['--slots', '4', ...modelArgs]
  })))
  processes.push(...nodes)
  for (const node of nodes) log(`  node ${node.peerId}`)

  const client = new DriaClient({ baseUrl: coordinator.url, apiKey: API_KEY })
  let models = []
  for (let i = 0; i < 100 && !models.some(m => m.nodes >= 2); i++) {
    models = await client.models()
    if (!models.some(m => m.nodes >= 2)) await new Promise(resolve => setTimeout(resolve, 200))
  }
  const model = models[0]?.id
  if (model === undefined) throw new Error('no model appeared on the network')
  log(`  network serves ${models.map(m => `${m.id} (${m.nodes} nodes)`).join(', ')}`)

  const input = join(dir.path, 'prompts.jsonl')
  const lines = Array.from({ length: LINES }, (_, i) => JSON.stringify({
    custom_id: `story-${i + 1}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model, messages: [{ role: 'user', content: `Tell a short story about ${topics[i % topics.length]}.` }], max_tokens: 48, temperature: 0 }
  }))
  await writeFile(input, lines.join('\n') + '\n')

  const file = await client.uploadFile(input)
  const created = await client.createBatch({ input_file_id: file.id, endpoint: '/v1/chat/completions' })
  log(`submitted ${LINES} requests as ${created.id}`)
  const started = Date.now()
  const batch = await client.waitForBatch(created.id, {
    intervalMs: 250,
    onProgress: b => process.stdout.write(`\r  ${b.status.padEnd(11)} ${b.request_counts.completed + b.request_counts.failed}/${b.request_counts.total}   `)
  })
  log(`\n${batch.status} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${batch.request_counts.completed} succeeded, ${batch.request_counts.failed} failed, ${batch.usage?.output_tokens ?? 0} tokens generated`)

  const output = resolve('demo-results.jsonl')
  if (batch.output_file_id !== null) {
    await client.downloadFile(batch.output_file_id, output)
    const results = (await readFile(output, 'utf8')).trim().split('\n').map(line => JSON.parse(line))
    log(`results: ${output}`)
    for (const result of results.slice(0, 3)) {
      log(`  ${result.custom_id}: ${JSON.stringify(result.response.body.choices[0].message.content.slice(0, 100))}`)
    }
  }
} finally {
  await stopAll()
  await dir.remove()
}
