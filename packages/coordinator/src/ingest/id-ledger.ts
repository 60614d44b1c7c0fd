import { randomInt } from 'node:crypto'
import { mkdir, open, readFile, rm } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { ID_LEDGER_MEMORY_ENTRIES, ID_LEDGER_PARTITIONS } from './constants.js'
import type { LinePosition } from './line-reader.js'

/** A later line whose id an earlier line already used. */
export interface Duplicate {
  line: number
  firstLine: number
}

export interface DuplicateReport {
  /** The first `limit` duplicates, in line order, each confirmed by comparing the ids. */
  duplicates: Duplicate[]
  /** Every duplicate (those beyond the list are counted by their hashes alone). */
  count: number
}

export interface IdLedger {
  /** Records that `id` is used on the line at `position`. Lines must come in file order. */
  add(id: string, position: LinePosition): void
  /** Writes what `add` buffered to disk; awaited between reads, so memory stays bounded. */
  flush(): Promise<void>
  /**
   * Finds the duplicates. `confirm` reads two lines again and says whether their ids are equal:
   * two different ids may share a 64-bit hash.
   */
  duplicates(limit: number, confirm: (first: LinePosition, later: LinePosition) => Promise<boolean>): Promise<DuplicateReport>
  /** Deletes the scratch files. */
  close(): Promise<void>
}

/** h1, h2 (the id's 64-bit hash), line, length (uint32) and offset (float64). */
const ENTRY_BYTES = 24
const TWO_32 = 2 ** 32

interface Entry extends LinePosition { key: number }

function entryAt (view: DataView, at: number): Entry {
  const h1 = view.getUint32(at, true)
  return {
    key: keyOf(h1, view.getUint32(at + 4, true)),
    line: view.getUint32(at + 8, true),
    length: view.getUint32(at + 12, true),
    offset: view.getFloat64(at + 16, true)
  }
}

/** 53 of the 64 hash bits, as a number (the partition already fixed the top 6). */
function keyOf (h1: number, h2: number): number {
  return (h1 & 0x1fffff) * TWO_32 + h2
}

/**
 * A seeded 64-bit string hash (cyrb53's mixing, both halves kept). The seed is random per
 * file, so nobody can prepare ids that collide.
 */
function hash64 (text: string, seed: number): [number, number] {
  let h1 = 0xdeadbeef ^ seed
  let h2 = 0x41c6ce57 ^ seed
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507)
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507)
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return [h1 >>> 0, h2 >>> 0]
}

/** Appends fixed-size entries to a growable buffer. */
class EntryBuffer {
  bytes: Buffer
  view: DataView
  used = 0

  constructor (entries: number) {
    this.bytes = Buffer.allocUnsafe(entries * ENTRY_BYTES)
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length)
  }

  get full (): boolean { return this.used === this.bytes.length }

  push (h1: number, h2: number, position: LinePosition): void {
    const at = this.used
    this.view.setUint32(at, h1, true)
    this.view.setUint32(at + 4, h2, true)
    this.view.setUint32(at + 8, position.line, true)
    this.view.setUint32(at + 12, position.length, true)
    this.view.setFloat64(at + 16, position.offset, true)
    this.used += ENTRY_BYTES
  }
}

/**
 * Finds the duplicate ids among the entries of one partition (in line order). Valid files
 * cost one native sort of the keys; only keys that repeat are looked at again.
 */
function candidatesIn (bytes: Buffer, limit: number): { first: Map<number, Entry>, candidates: Array<Entry & { firstOf: number }>, extra: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  const count = bytes.length / ENTRY_BYTES
  const keys = new Float64Array(count)
  for (let i = 0; i < count; i++) keys[i] = keyOf(view.getUint32(i * ENTRY_BYTES, true), view.getUint32(i * ENTRY_BYTES + 4, true))
  const sorted = keys.slice().sort()
  const repeated = new Set<number>()
  for (let i = 1; i < count; i++) if (sorted[i] === sorted[i - 1]) repeated.add(sorted[i])
  const first = new Map<number, Entry>()
  const candidates: Array<Entry & { firstOf: number }> = []
  let extra = 0
  if (repeated.size === 0) return { first, candidates, extra }
  for (let i = 0; i < count; i++) {
    if (!repeated.has(keys[i])) continue
    const entry = entryAt(view, i * ENTRY_BYTES)
    const earlier = first.get(entry.key)
    if (earlier === undefined) first.set(entry.key, entry)
    else if (candidates.length < limit) candidates.push({ ...entry, firstOf: earlier.line })
    else extra++
  }
  return { first, candidates, extra }
}

/**
 * Duplicate custom ids without holding the ids in memory: each id becomes a 24-byte entry
 * (seeded 64-bit hash and line position). Up to ID_LEDGER_MEMORY_ENTRIES entries stay in
 * memory; beyond that they are spread over ID_LEDGER_PARTITIONS files by hash, and each file
 * is checked on its own at the end. Peak memory is a few MB whatever the file size.
 */
export function createIdLedger (init: { scratchDir: string }): IdLedger {
  const seed = randomInt(2 ** 31)
  let memory: EntryBuffer | undefined = new EntryBuffer(1024)
  let spilled: { buffers: EntryBuffer[], files: Array<FileHandle | undefined>, full: Array<[number, EntryBuffer]> } | undefined
  const partitionEntries = 4096

  function partitionOf (h1: number): number {
    return h1 >>> (32 - Math.log2(ID_LEDGER_PARTITIONS))
  }

  function spill (): void {
    const buffers = Array.from({ length: ID_LEDGER_PARTITIONS }, () => new EntryBuffer(partitionEntries))
    spilled = { buffers, files: new Array(ID_LEDGER_PARTITIONS), full: [] }
    const old = memory!
    memory = undefined
    for (let at = 0; at < old.used; at += ENTRY_BYTES) {
      const e = entryAt(old.view, at)
      addTo(old.view.getUint32(at, true), old.view.getUint32(at + 4, true), e)
    }
  }

  function addTo (h1: number, h2: number, position: LinePosition): void {
    const state = spilled!
    const p = partitionOf(h1)
    state.buffers[p].push(h1, h2, position)
    if (state.buffers[p].full) {
      state.full.push([p, state.buffers[p]])
      state.buffers[p] = new EntryBuffer(partitionEntries)
    }
  }

  async function write (p: number, buffer: EntryBuffer): Promise<void> {
    const state = spilled!
    if (state.files[p] === undefined) {
      await mkdir(init.scratchDir, { recursive: true })
      state.files[p] = await open(join(init.scratchDir, `ids-${p}`), 'a')
    }
    await state.files[p]!.write(buffer.bytes, 0, buffer.used)
  }

  async function flush (): Promise<void> {
    if (spilled === undefined) return
    const full = spilled.full
    spilled.full = []
    for (const [p, buffer] of full) await write(p, buffer)
  }

  /** The entries, one partition at a time: only one is in memory at once. */
  async function * partitions (): AsyncGenerator<Buffer> {
    if (memory !== undefined) {
      yield memory.bytes.subarray(0, memory.used)
      return
    }
    await flush()
    const state = spilled!
    for (const [p, buffer] of state.buffers.entries()) if (buffer.used > 0) await write(p, buffer)
    await Promise.all(state.files.map(async f => await f?.close()))
    state.files.fill(undefined)
    state.buffers = []
    for (let p = 0; p < ID_LEDGER_PARTITIONS; p++) {
      yield await readFile(join(init.scratchDir, `ids-${p}`)).catch(() => Buffer.alloc(0))
    }
  }

  return {
    add (id, position) {
      const [h1, h2] = hash64(id, seed)
      if (memory === undefined) return addTo(h1, h2, position)
      if (memory.full) {
        if (memory.used / ENTRY_BYTES >= ID_LEDGER_MEMORY_ENTRIES) {
          spill()
          return addTo(h1, h2, position)
        }
        const grown = new EntryBuffer(Math.min(ID_LEDGER_MEMORY_ENTRIES, (memory.used / ENTRY_BYTES) * 2))
        memory.bytes.copy(grown.bytes, 0, 0, memory.used)
        grown.used = memory.used
        memory = grown
      }
      memory.push(h1, h2, position)
    },
    flush,
    async duplicates (limit, confirm) {
      const kept: Array<Entry & { firstOf: number, firstEntry: Entry }> = []
      let unconfirmed = 0
      // One partition's buffer at a time: the others are on disk.
      for await (const bytes of partitions()) {
        const { first, candidates, extra } = candidatesIn(bytes, limit)
        unconfirmed += extra
        for (const c of candidates) kept.push({ ...c, firstEntry: first.get(c.key)! })
      }
      kept.sort((a, b) => a.line - b.line)
      const duplicates: Duplicate[] = []
      for (const candidate of kept) {
        if (duplicates.length === limit) { unconfirmed++; continue }
        if (await confirm(candidate.firstEntry, candidate)) duplicates.push({ line: candidate.line, firstLine: candidate.firstOf })
      }
      return { duplicates, count: duplicates.length + unconfirmed }
    },
    async close () {
      if (spilled !== undefined) await Promise.all(spilled.files.map(async f => await f?.close()))
      await rm(init.scratchDir, { recursive: true, force: true })
    }
  }
}
