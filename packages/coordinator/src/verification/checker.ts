import { randomInt } from 'node:crypto'
import { TaskKind } from '@dria/protocol'
import type { Logger, TaskKindName, TaskRequest } from '@dria/protocol'
import { MAX_VERIFIERS_PER_CHECK, VERDICT_MARGIN } from '../constants.js'
import type { CoordinatorMetrics } from '../metrics/index.js'
import type { NodeSession, TaskReply } from '../network/index.js'
import type { TaskOutcome } from '../store/index.js'
import type { Trust } from '../trust/index.js'
import { verifyReceipt, verifyResult } from './verify-result.js'

/** What is being checked: the request as the producer ran it, and what it claimed. */
export interface CheckSubject {
  kind: TaskKindName
  model: string
  /** The request body JSON. */
  json: string
  seed: number
  maxTokens?: number
  producer: NodeSession
  outcome: TaskOutcome
}

export type CheckVerdict =
  /** The result is what the model produces; `usage` as the verifier recounted it, when it did. */
  | { verdict: 'pass', by: string[], usage?: { promptTokens: number, completionTokens: number } }
  /** Proven wrong (by the margin of verdicts). */
  | { verdict: 'fail', by: string[], reason: string }
  /** Failed by the only verifier there was: not proven (it may be the liar), so redone with a strike. */
  | { verdict: 'reject', by: string[], reason: string }
  /**
   * No decision: redo the line elsewhere, blame nobody. `split` when verifiers answered on both
   * sides without a margin (not merely too few answered in time).
   */
  | { verdict: 'inconclusive', split: boolean }
  /** No node can check it now (none serves the same weights). */
  | { verdict: 'unavailable' }

/** Sends a task to one chosen node, ahead of its queued work, and resolves with its answer. */
export type TargetedRun = (session: NodeSession, request: TaskRequest, deadlineMs: number, signal: AbortSignal) => Promise<TaskReply>

export interface CheckerComponents {
  /** Live nodes that may serve `model`. */
  sessionsFor: (model: string) => NodeSession[]
  trust: Trust
  run: TargetedRun
  newTaskId: () => string
  /** Deadline of a verification task on `session` for a result of `tokens` tokens. */
  deadline: (session: NodeSession, model: string, tokens: number) => number
  logger: Logger
  metrics: CoordinatorMetrics | null
}

export interface Checker {
  check(subject: CheckSubject, signal: AbortSignal): Promise<CheckVerdict>
}

interface Verdict { peer: string, pass: boolean, weight: number, usage?: { promptTokens: number, completionTokens: number }, reason?: string }

const encoder = new TextEncoder()

/** A score report as verifier nodes return it (see @dria/engines' score()). */
function readReport (output: string): { pass: boolean, reason?: string, usage?: { promptTokens: number, completionTokens: number } } | undefined {
  let report: Record<string, unknown>
  try {
    report = JSON.parse(output) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (report.verdict !== 'pass' && report.verdict !== 'fail') return undefined
  const usage = report.usage as { promptTokens?: unknown, completionTokens?: unknown } | undefined
  const counted = typeof usage?.promptTokens === 'number' && typeof usage.completionTokens === 'number'
    ? { promptTokens: usage.promptTokens, completionTokens: usage.completionTokens }
    : undefined
  return { pass: report.verdict === 'pass', reason: typeof report.code === 'string' ? report.code : undefined, usage: counted }
}

/** Same answer: identical text and finish reason, or vectors equal within float noise. */
function sameAnswer (a: string, b: string): boolean {
  const x = JSON.parse(a) as { text?: string, finish_reason?: string, embeddings?: number[][] }
  const y = JSON.parse(b) as { text?: string, finish_reason?: string, embeddings?: number[][] }
  if (x.embeddings !== undefined || y.embeddings !== undefined) {
    if (x.embeddings?.length !== y.embeddings?.length) return false
    return x.embeddings!.every((v, i) => v.length === y.embeddings![i].length && v.every((n, j) => Math.abs(n - y.embeddings![i][j]) <= 1e-5))
  }
  return x.text === y.text && x.finish_reason === y.finish_reason
}

/** Picks one of `candidates` at random, unpredictably, weighted by trust. */
function pickWeighted (candidates: NodeSession[], weight: (s: NodeSession) => number): NodeSession | undefined {
  const weights = candidates.map(weight)
  const total = weights.reduce((sum, w) => sum + w, 0)
  if (total <= 0) return undefined
  let point = randomInt(total)
  for (const [i, w] of weights.entries()) {
    if (point < w) return candidates[i]
    point -= w
  }
  return undefined
}

/**
 * Decides whether a claimed result is what the model produces, by asking other nodes that
 * serve the same weights: by logprob scoring where they can (one prefill of the claimed
 * tokens, each of which must be the one the seed selects), else by running the task again
 * (a task indistinguishable from ordinary work) and comparing. Verifiers are chosen at random,
 * never the producer, weighted by trust; verdicts count by the verifier's trust, and the check
 * ends once one side leads by a margin, so no single untrusted verifier decides against others.
 */
export function createChecker (components: CheckerComponents): Checker {
  const { trust, run } = components
  const log = components.logger.child({ module: 'checker' })
  const metrics = components.metrics

  function eligible (subject: CheckSubject, asked: Set<string>, need: (s: NodeSession) => boolean): NodeSession[] {
    return components.sessionsFor(subject.model).filter(s =>
      !asked.has(s.id) && !trust.isQuarantined(s.id) && s.models.get(subject.model)?.digest === subject.outcome.modelDigest && need(s))
  }

  const canScore = (model: string) => (s: NodeSession): boolean => s.models.get(model)?.capabilities.includes('score') === true

  async function ask (session: NodeSession, kind: TaskKind, body: Uint8Array, subject: CheckSubject, signal: AbortSignal): Promise<TaskReply | undefined> {
    const request: TaskRequest = {
      taskId: components.newTaskId(),
      attempt: 1,
      kind,
      model: subject.model,
      body,
      timeoutMs: 0,
      seed: subject.kind === 'embedding' ? undefined : subject.seed
    }
    const deadlineMs = components.deadline(session, subject.model, Math.max(1, subject.outcome.completionTokens))
    request.timeoutMs = Math.max(1_000, deadlineMs - 1_000)
    try {
      return await run(session, request, deadlineMs, signal)
    } catch (err) {
      if (signal.aborted) throw err
      log.debug({ peer: session.id, err }, 'verifier did not answer')
      return undefined
    }
  }

  async function scoreOnce (session: NodeSession, subject: CheckSubject, signal: AbortSignal): Promise<Verdict | undefined> {
    const body = encoder.encode(JSON.stringify({
      kind: subject.kind,
      body: JSON.parse(subject.json),
      claim: { output: JSON.parse(subject.outcome.output), usage: { prompt_tokens: subject.outcome.promptTokens, completion_tokens: subject.outcome.completionTokens } }
    }))
    const reply = await ask(session, TaskKind.TASK_KIND_SCORE, body, subject, signal)
    const result = reply?.result
    if (result == null || result.error != null) return undefined
    // A verifier's report is a signed receipt like any result.
    const receipt = await verifyReceipt(result, { peerId: session.peerId, taskId: result.taskId, attempt: 1, modelDigest: subject.outcome.modelDigest }).then(() => true, () => false)
    const report = receipt ? readReport(new TextDecoder().decode(result.output)) : undefined
    if (report === undefined) return undefined
    return { peer: session.id, pass: report.pass, weight: trust.verifierWeight(session.id), usage: report.usage, reason: report.reason }
  }

  /**
   * Verdicts, weighted by the verifiers' trust. Passing needs a lead of VERDICT_MARGIN (two
   * new verifiers, or one trusted), and asking stops there; failing needs the same lead after
   * asking everyone eligible, so a pair of colluders cannot fail an honest result by being
   * asked first. With a single possible verifier its verdict stands, but a lone failure only
   * rejects (and strikes) the result: it cannot tell the liar from the framed.
   */
  async function score (subject: CheckSubject, signal: AbortSignal): Promise<CheckVerdict> {
    const asked = new Set([subject.producer.id])
    const verdicts: Verdict[] = []
    let pass = 0
    let fail = 0
    let silent = 0
    let exhausted = false
    while (asked.size <= MAX_VERIFIERS_PER_CHECK) {
      const verifier = pickWeighted(eligible(subject, asked, canScore(subject.model)), s => trust.verifierWeight(s.id))
      if (verifier === undefined) {
        exhausted = true
        break
      }
      asked.add(verifier.id)
      const verdict = await scoreOnce(verifier, subject, signal)
      if (verdict === undefined) {
        silent++
        continue
      }
      verdicts.push(verdict)
      if (verdict.pass) pass += verdict.weight
      else fail += verdict.weight
      if (pass - fail >= VERDICT_MARGIN) break
    }
    if (verdicts.length === 0) return asked.size > 1 ? { verdict: 'inconclusive', split: false } : { verdict: 'unavailable' }
    const lone = exhausted && silent === 0 && (pass === 0 || fail === 0)
    let passed: boolean
    if (pass - fail >= VERDICT_MARGIN || (lone && fail === 0)) passed = true
    else if (fail - pass >= VERDICT_MARGIN) passed = false
    else if (lone) {
      const against = verdicts.filter(v => !v.pass)
      return { verdict: 'reject', by: against.map(v => v.peer), reason: against[0].reason ?? 'verification failed' }
    } else return { verdict: 'inconclusive', split: pass > 0 && fail > 0 }
    for (const v of verdicts) {
      if (v.pass !== passed) trust.strike(v.peer, `verdict on a result of ${subject.producer.id} overruled`)
    }
    const winners = verdicts.filter(v => v.pass === passed)
    if (!passed) return { verdict: 'fail', by: winners.map(v => v.peer), reason: winners[0].reason ?? 'verification failed' }
    const counted = winners.filter(v => v.usage !== undefined).sort((a, b) => b.weight - a.weight)[0]?.usage
    return { verdict: 'pass', by: winners.map(v => v.peer), usage: counted }
  }

  /** Runs the task again on other nodes and compares: the fallback where nobody can score. */
  async function reExecute (subject: CheckSubject, signal: AbortSignal): Promise<CheckVerdict> {
    const asked = new Set([subject.producer.id])
    const sameEngine = (s: NodeSession): boolean => s.hello.engine === subject.producer.hello.engine
    const runOn = async (session: NodeSession): Promise<string | undefined> => {
      asked.add(session.id)
      const kind = subject.kind === 'chat' ? TaskKind.TASK_KIND_CHAT : subject.kind === 'completion' ? TaskKind.TASK_KIND_COMPLETION : TaskKind.TASK_KIND_EMBEDDING
      const reply = await ask(session, kind, encoder.encode(subject.json), subject, signal)
      const result = reply?.result
      if (result == null || result.error != null) return undefined
      const outcome = await verifyResult(result, { peerId: session.peerId, taskId: result.taskId, attempt: 1, kind: subject.kind, modelDigest: subject.outcome.modelDigest, maxTokens: subject.maxTokens }).catch(() => undefined)
      return outcome?.output
    }
    const first = pickWeighted(eligible(subject, asked, sameEngine), s => trust.verifierWeight(s.id))
    if (first === undefined) return { verdict: 'unavailable' }
    const second = await runOn(first)
    if (second === undefined) return { verdict: 'inconclusive', split: false }
    if (sameAnswer(second, subject.outcome.output)) return { verdict: 'pass', by: [first.id] }
    const tieBreaker = pickWeighted(eligible(subject, asked, sameEngine), s => trust.verifierWeight(s.id))
    const third = tieBreaker === undefined ? undefined : await runOn(tieBreaker)
    if (third === undefined) return { verdict: 'inconclusive', split: false }
    if (sameAnswer(third, subject.outcome.output)) {
      trust.strike(first.id, `re-execution disagreed with two nodes on a result of ${subject.producer.id}`)
      return { verdict: 'pass', by: [tieBreaker!.id] }
    }
    if (sameAnswer(third, second)) return { verdict: 'fail', by: [first.id, tieBreaker!.id], reason: 'RE_EXECUTION_MISMATCH' }
    return { verdict: 'inconclusive', split: true }
  }

  return {
    async check (subject, signal) {
      const scorers = eligible(subject, new Set([subject.producer.id]), canScore(subject.model))
      // Engines with their own sampler (Ollama) are reproduced exactly by their peers, but only
      // statistically by a scorer: run them again where a peer of the same engine can.
      const reproducible = subject.outcome.sampler !== 'native' ||
        eligible(subject, new Set([subject.producer.id]), s => s.hello.engine === subject.producer.hello.engine).length === 0
      const verdict = scorers.length > 0 && reproducible ? await score(subject, signal) : await reExecute(subject, signal)
      metrics?.audits.inc({ result: verdict.verdict })
      return verdict
    }
  }
}
