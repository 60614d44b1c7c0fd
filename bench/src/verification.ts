/**
 * Verification benchmark (`pnpm bench verification [mode...]`): a real coordinator with default
 * verification settings, two honest `dria-node` processes on llama.cpp, and cheaters: real node
 * daemons around a real llama.cpp engine that lies (testkit's cheating engine), so they speak
 * the protocol perfectly and sign every lie. Each batch mixes greedy, seeded (T = 0.8) and
 * unseeded lines; every output line is compared with what the model produces for it (computed
 * here in-process: dria-1 is reproducible from the seed), so a dishonest line cannot hide.
 *
 * Then honest nodes only: false strikes and false rejections over many lines, and the share of
 * the nodes' engine time spent verifying, while they are new (everything checked) and once
 * they are trusted (a sample).
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DriaClient } from '@dria/cli'
import { derivedSeed } from '@dria/coordinator'
import { createLlamaCppEngine } from '@dria/engines'
import type { LlamaCppEngine } from '@dria/engines'
import { createLogger } from '@dria/protocol'
import { printTable, startCoordinatorProcess, startNodeProcess, startTestNode, tempDir, testModels } from '@dria/testkit'
import { MADE_UP_ANSWER } from '@dria/testkit'
import type { Cheat, CoordinatorProcess, NodeProcess, VerifierCheat } from '@dria/testkit'

const API_KEY = 'bench-verification'
const MAX_TOKENS = 24
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

interface CheaterSpec { cheat?: Cheat, verifier?: VerifierCheat, flapEveryTasks?: number, impostor?: boolean, churn?: boolean }

interface Mode {
  name: string
  cheaters: CheaterSpec[]
  lines: number
  /** Honest nodes (default 2). */
  honest?: number
  /** Lines the honest nodes run alone first, to earn trust (default none: everyone starts new). */
  warmup?: number
}

const COLLUDER: CheaterSpec = { cheat: { kind: 'made-up' }, verifier: { kind: 'collude', answer: MADE_UP_ANSWER } }

const MODES: Mode[] = [
  { name: 'another GGUF under the name (its own digest)', cheaters: [{ impostor: true }], lines: 150 },
  { name: 'made-up answers on every kind of line', cheaters: [{ cheat: { kind: 'made-up' } }], lines: 300 },
  { name: 'two colluders (same made-up answer, vouching for each other) join two trusted nodes', cheaters: [COLLUDER, COLLUDER], lines: 300, warmup: 150 },
  { name: 'two colluders and three honest nodes, all new', cheaters: [COLLUDER, COLLUDER], lines: 300, honest: 3 },
  { name: 'two colluders and two honest nodes, all new (an even split: undecidable)', cheaters: [COLLUDER, COLLUDER], lines: 60 },
  { name: 'honest except 1 task in 20', cheaters: [{ cheat: { kind: 'one-in', n: 20 } }], lines: 300 },
  { name: 'made-up, hangs up and redials every 2 answers', cheaters: [{ cheat: { kind: 'made-up' }, flapEveryTasks: 2 }], lines: 300 },
  { name: 'honest text, inflated usage', cheaters: [{ cheat: { kind: 'inflate-usage', factor: 50 } }], lines: 300 },
  { name: 'garbage', cheaters: [{ cheat: { kind: 'garbage' } }], lines: 150 },
  { name: 'truncated, claimed complete', cheaters: [{ cheat: { kind: 'truncate' } }], lines: 150 },
  { name: 'one wrong token', cheaters: [{ cheat: { kind: 'subtle' } }], lines: 150 },
  { name: 'forged digest (other weights, honest digest)', cheaters: [{ cheat: { kind: 'forged-digest', model: '', runs: '' } }], lines: 150 },
  { name: 'late cheating (honest for 60 tasks)', cheaters: [{ cheat: { kind: 'late', after: 60 } }], lines: 400 },
  { name: 'identity churn (a new identity every few seconds)', cheaters: [{ churn: true }], lines: 300 }
]

interface Line { custom_id: string, body: Record<string, unknown> }

function batchLines (model: string, count: number, tag: string): Line[] {
  return Array.from({ length: count }, (_, i) => ({
    custom_id: `${tag}-${i}`,
    body: { model, messages: [{ role: 'user', content: `${tag} story ${i}: once upon a time` }], max_tokens: MAX_TOKENS, ...[{ temperature: 0 }, { temperature: 0.8, seed: 500 + i }, {}][i % 3] }
  }))
}

async function expectedText (engine: LlamaCppEngine, batchId: string, line: Line, index: number): Promise<string> {
  const body = line.body as { model: string, messages: Array<{ role: 'user', content: string }>, temperature?: number, seed?: number }
  const seed = body.seed ?? derivedSeed(`${batchId}#${index}`)
  return (await engine.chat({ model: body.model, messages: body.messages, maxTokens: MAX_TOKENS, temperature: body.temperature, seed })).text
}

interface Outcome { status: string, completed: number, failed: number, dishonest: number, batchId: string, failures: string }

async function runBatch (api: DriaClient, dir: string, engine: LlamaCppEngine, lines: Line[]): Promise<Outcome> {
  const path = join(dir, `${lines[0].custom_id}.jsonl`)
  await writeFile(path, lines.map(l => JSON.stringify({ custom_id: l.custom_id, method: 'POST', url: '/v1/chat/completions', body: l.body })).join('\n') + '\n')
  const file = await api.uploadFile(path)
  const created = await api.createBatch({ input_file_id: file.id, endpoint: '/v1/chat/completions' })
  const batch = await api.waitForBatch(created.id, { intervalMs: 200 })
  const output = batch.output_file_id == null ? '' : await api.fileText(batch.output_file_id)
  let dishonest = 0
  for (const text of output.split('\n').filter(l => l !== '')) {
    const result = JSON.parse(text) as { custom_id: string, response: { body: { choices: Array<{ message: { content: string } }> } } }
    const index = lines.findIndex(l => l.custom_id === result.custom_id)
    const expected = await expectedText(engine, batch.id, lines[index], index)
    if (result.response.body.choices[0].message.content !== expected) {
      dishonest++
      process.stderr.write(`dishonest line ${result.custom_id}: ${JSON.stringify(result.response.body.choices[0].message.content)}, the model's: ${JSON.stringify(expected)}\n`)
    }
  }
  const codes = new Map<string, number>()
  for (const text of (batch.error_file_id == null ? '' : await api.fileText(batch.error_file_id)).split('\n').filter(l => l !== '')) {
    const failed = JSON.parse(text) as { error: { code: string } | null, response: { body: { error: { code: string } } } | null }
    const code = failed.error?.code ?? failed.response?.body.error.code ?? 'unknown'
    codes.set(code, (codes.get(code) ?? 0) + 1)
  }
  const failures = [...codes].map(([code, n]) => `${n} ${code}`).join(', ')
  return { status: batch.status, completed: batch.request_counts?.completed ?? 0, failed: batch.request_counts?.failed ?? 0, dishonest, batchId: batch.id, failures }
}

interface Net { dir: string, coordinator: CoordinatorProcess, honest: NodeProcess[], api: DriaClient, stop(): Promise<void> }

async function startNet (model: string, modelsDir: string, coordinatorArgs: string[] = [], honestNodes = 2): Promise<Net> {
  const dir = await tempDir('dria-bench-verification-')
  const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'coordinator'), apiKeys: [API_KEY], args: coordinatorArgs })
  const honest = await Promise.all(Array.from({ length: honestNodes }, async (_, i) => await startNodeProcess({ dataDir: join(dir.path, `honest-${i}`), bootstrap: coordinator.multiaddrs, args: ['--models-dir', modelsDir, '--models', model, '--slots', '2'] })))
  const api = new DriaClient({ baseUrl: coordinator.url, apiKey: API_KEY })
  return {
    dir: dir.path,
    coordinator,
    honest,
    api,
    async stop () {
      await Promise.all([...honest, coordinator].map(async p => await p.stop(3_000)))
      await dir.remove()
    }
  }
}

async function waitForNodes (api: DriaClient, model: string, count: number): Promise<void> {
  for (let i = 0; i < 300 && !(await api.models()).some(m => m.id === model && (m as { nodes?: number }).nodes === count); i++) await sleep(100)
}

async function cheaterModes (engine: LlamaCppEngine, model: string, other: string, modelsDir: string, selected: string[]): Promise<Array<Record<string, string | number>>> {
  const rows: Array<Record<string, string | number>> = []
  for (const mode of MODES.filter(m => selected.length === 0 || selected.some(s => m.name.includes(s)))) {
    const net = await startNet(model, modelsDir, [], mode.honest)
    const cheaters: NodeProcess[] = []
    if (mode.warmup !== undefined) {
      await waitForNodes(net.api, model, net.honest.length)
      await runBatch(net.api, net.dir, engine, batchLines(model, mode.warmup, 'w'))
    }
    let churning = true
    const churn: Array<Promise<void>> = []
    try {
      for (const [i, spec] of mode.cheaters.entries()) {
        const dataDir = join(net.dir, `cheater-${i}`)
        if (spec.churn === true) {
          churn.push((async () => {
            for (let n = 0; churning; n++) {
              const liar = await startTestNode({ dataDir: join(net.dir, `churn-${n}`), bootstrap: net.coordinator.multiaddrs, slots: 2, engine: { type: 'llamacpp', modelsDir, models: [model] }, cheat: { kind: 'made-up' } })
              cheaters.push(liar)
              await sleep(3_000)
              await liar.kill()
            }
          })())
          continue
        }
        let cheaterModels = modelsDir
        let cheat = spec.cheat
        if (spec.impostor === true) {
          // Another GGUF file under the advertised name: a real node, its own (other) digest.
          cheaterModels = join(net.dir, 'impostor-models')
          await mkdir(cheaterModels, { recursive: true })
          await symlink(join(modelsDir, `${other}.gguf`), join(cheaterModels, `${model}.gguf`))
        }
        if (cheat?.kind === 'forged-digest') cheat = { kind: 'forged-digest', model, runs: other }
        cheaters.push(await startTestNode({
          dataDir,
          bootstrap: net.coordinator.multiaddrs,
          slots: 2,
          engine: { type: 'llamacpp', modelsDir: cheaterModels, models: cheat?.kind === 'forged-digest' ? [model, other] : [model] },
          cheat,
          verifier: spec.verifier,
          flapEveryTasks: spec.flapEveryTasks
        }))
      }
      await waitForNodes(net.api, model, net.honest.length + (spec(mode).churn ? 0 : mode.cheaters.filter(c => c.impostor !== true).length))
      const outcome = await runBatch(net.api, net.dir, engine, batchLines(model, mode.lines, 'm'))
      churning = false
      await Promise.all(churn)
      const caught = cheaters.filter(c => net.coordinator.lines.some(l => l.msg === 'node quarantined' && l.peer === c.peerId)).length
      const framed = net.honest.filter(h => net.coordinator.lines.some(l => (l.msg === 'node quarantined' || l.msg === 'node struck') && l.peer === h.peerId)).length
      for (const line of net.coordinator.lines.filter(l => (l.msg === 'node quarantined' || l.msg === 'node struck') && net.honest.some(h => h.peerId === l.peer))) {
        process.stderr.write(`honest node ${String(line.peer)} ${String(line.msg)}: ${String(line.reason)}\n`)
      }
      const cheatedTasks = cheaters.reduce((sum, c) => sum + c.lines.filter(l => l.msg === 'task finished' && l.work === 'generate').length, 0)
      rows.push({
        mode: mode.name,
        lines: mode.lines,
        'dishonest lines delivered': outcome.dishonest,
        'failed lines': outcome.failed === 0 ? 0 : `${outcome.failed} (${outcome.failures})`,
        'cheaters quarantined': `${caught} of ${cheaters.length}`,
        'cheater tasks': cheatedTasks,
        'honest nodes struck': framed
      })
    } finally {
      churning = false
      await Promise.all(churn).catch(() => {})
      await Promise.all(cheaters.map(async c => await c.stop(2_000)))
      await net.stop()
    }
  }
  return rows
}

const spec = (mode: Mode): { churn: boolean } => ({ churn: mode.cheaters.some(c => c.churn === true) })

/** Engine milliseconds of score and generation tasks the honest nodes logged since `from`. */
function engineTime (nodes: NodeProcess[], from: number): { generate: number, score: number } {
  const time = { generate: 0, score: 0 }
  for (const node of nodes) {
    for (const line of node.lines.slice(from)) {
      if (line.msg !== 'task finished') continue
      time[line.work === 'score' ? 'score' : 'generate'] += Number(line.ms ?? 0)
    }
  }
  return time
}

async function honestOnly (engine: LlamaCppEngine, model: string, modelsDir: string, total: number): Promise<Array<Record<string, string | number>>> {
  const trustAfter = 50
  const net = await startNet(model, modelsDir, ['--trust-after', String(trustAfter)])
  try {
    await waitForNodes(net.api, model, 2)
    const rows: Array<Record<string, string | number>> = []
    let done = 0
    let phase = 0
    while (done < total) {
      const size = Math.min(500, total - done)
      const marks = net.honest.map(n => n.lines.length)
      const outcome = await runBatch(net.api, net.dir, engine, batchLines(model, size, `h${phase}`))
      const time = net.honest.map((n, i) => engineTime([n], marks[i])).reduce((a, b) => ({ generate: a.generate + b.generate, score: a.score + b.score }))
      const trusted = net.coordinator.lines.filter(l => l.msg === 'node trusted').length
      rows.push({
        mode: `honest only, lines ${done + 1}–${done + size} (${trusted} of 2 nodes trusted by the end)`,
        lines: size,
        'dishonest lines delivered': outcome.dishonest,
        'failed lines': outcome.failed,
        'cheaters quarantined': '',
        'cheater tasks': `verification = ${(time.score / Math.max(1, time.generate) * 100).toFixed(1)}% of generation engine time`,
        'honest nodes struck': net.coordinator.lines.filter(l => l.msg === 'node struck' || l.msg === 'node quarantined').length
      })
      done += size
      phase++
    }
    const metrics = await (await fetch(`${net.coordinator.url}/metrics`)).text()
    const count = (outcome: string): number => Number(new RegExp(`^dria_scheduler_task_attempts_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0)
    const rejected = count('caught') + count('rejected_by_check') + count('usage_lie') + count('refused')
    rows.push({ mode: `honest only: results rejected by verification (redone, not failed)`, lines: total, 'dishonest lines delivered': '', 'failed lines': '', 'cheaters quarantined': '', 'cheater tasks': `${rejected} = ${(rejected / total * 100).toFixed(2)}% (target ≤ 0.5%)`, 'honest nodes struck': '' })
    return rows
  } finally {
    await net.stop()
  }
}

export async function main (args: string[] = []): Promise<void> {
  const models = await testModels()
  const model = models.main
  // The impostor and the forged digest need a second, different model under the same name.
  const modelsDir = models.dir
  const engine = await createLlamaCppEngine({ logger: createLogger('bench', 'silent') }, { modelsDir, models: [model], threads: 1, slots: 1 })
  try {
    const honest = args.includes('honest')
    const modes = args.filter(a => a !== 'honest')
    const rows = [
      ...(honest && modes.length === 0 ? [] : await cheaterModes(engine, model, models.other, modelsDir, modes)),
      ...(honest || args.length === 0 ? await honestOnly(engine, model, modelsDir, Number(process.env.BENCH_HONEST_LINES ?? 2000)) : [])
    ]
    printTable(rows)
  } finally {
    await engine.close()
  }
}
