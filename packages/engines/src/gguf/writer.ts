import { createHash, randomBytes } from 'node:crypto'
import { rename, rm, writeFile } from 'node:fs/promises'
import { DriaError } from '@dria/protocol'
import { GGUF_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION } from './constants.js'

export type GgufNumberType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64'
export type GgufBigIntType = 'uint64' | 'int64'

export type GgufValue =
  | { type: GgufNumberType, value: number }
  | { type: GgufBigIntType, value: bigint }
  | { type: 'bool', value: boolean }
  | { type: 'string', value: string }
  | { type: 'array', itemType: GgufNumberType, value: ArrayLike<number> }
  | { type: 'array', itemType: GgufBigIntType, value: readonly bigint[] }
  | { type: 'array', itemType: 'bool', value: readonly boolean[] }
  | { type: 'array', itemType: 'string', value: readonly string[] }

export interface GgufTensor {
  name: string
  /** Dimensions in ggml order: the fastest-varying (row length) first. */
  shape: readonly number[]
  /** F32 values, row-major in ggml order. */
  data: Float32Array
}

export interface GgufModel {
  /** Written in insertion order. */
  metadata: Record<string, GgufValue>
  tensors: readonly GgufTensor[]
}

export interface WrittenGguf {
  path: string
  /** `sha256:<hex>` of the file's bytes. */
  digest: string
  sizeBytes: number
}

type ItemType = GgufNumberType | GgufBigIntType | 'bool' | 'string'

// Type ids from the GGUF spec (gguf_metadata_value_type).
const TYPE_IDS: Record<ItemType | 'array', number> = {
  uint8: 0, int8: 1, uint16: 2, int16: 3, uint32: 4, int32: 5, float32: 6,
  bool: 7, string: 8, array: 9, uint64: 10, int64: 11, float64: 12
}
const GGML_TYPE_F32 = 0

const INTEGER_SIZES: Record<Exclude<ItemType, 'float32' | 'float64' | 'bool' | 'string'>, number> = {
  uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, uint64: 8, int64: 8
}
const INTEGER_RANGES: Record<keyof typeof INTEGER_SIZES, [bigint, bigint]> = {
  uint8: [0n, 0xffn],
  int8: [-0x80n, 0x7fn],
  uint16: [0n, 0xffffn],
  int16: [-0x8000n, 0x7fffn],
  uint32: [0n, 0xffffffffn],
  int32: [-0x80000000n, 0x7fffffffn],
  uint64: [0n, 0xffffffffffffffffn],
  int64: [-0x8000000000000000n, 0x7fffffffffffffffn]
}

const align = (n: number): number => Math.ceil(n / GGUF_ALIGNMENT) * GGUF_ALIGNMENT

/** Appends little-endian primitives to a growing buffer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16)
  private view = new DataView(this.buf.buffer)
  length = 0

  private reserve (n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n))
      next.set(this.buf.subarray(0, this.length))
      this.buf = next
      this.view = new DataView(next.buffer)
    }
    const at = this.length
    this.length += n
    return at
  }

  bytes (b: Uint8Array): void {
    const at = this.reserve(b.length) // may replace this.buf
    this.buf.set(b, at)
  }

  // Arguments are evaluated left to right, so `this.view` must be read after reserve().
  u32 (v: number): void { const at = this.reserve(4); this.view.setUint32(at, v, true) }
  u64 (v: number | bigint): void { const at = this.reserve(8); this.view.setBigUint64(at, BigInt(v), true) }
  string (s: string): void {
    const b = Buffer.from(s, 'utf8')
    this.u64(b.length)
    this.bytes(b)
  }

  /** Fresh buffer space is zeroed, so reserving is padding. */
  padTo (n: number): void { this.reserve(n - this.length) }

  item (type: ItemType, v: number | bigint | boolean | string, key: string): void {
    if (type === 'string') return this.string(v as string)
    if (type === 'bool') { const at = this.reserve(1); return this.view.setUint8(at, v === true ? 1 : 0) }
    if (type === 'float32') { const at = this.reserve(4); return this.view.setFloat32(at, v as number, true) }
    if (type === 'float64') { const at = this.reserve(8); return this.view.setFloat64(at, v as number, true) }
    const range = INTEGER_RANGES[type]
    if ((typeof v !== 'number' && typeof v !== 'bigint') ||
      (typeof v === 'number' && !Number.isInteger(v)) || BigInt(v) < range[0] || BigInt(v) > range[1]) {
      throw new DriaError('GGUF_INVALID_VALUE', `metadata ${key}: ${String(v)} is not a valid ${type}`)
    }
    const at = this.reserve(INTEGER_SIZES[type])
    switch (type) {
      case 'uint8': this.view.setUint8(at, Number(v)); break
      case 'int8': this.view.setInt8(at, Number(v)); break
      case 'uint16': this.view.setUint16(at, Number(v), true); break
      case 'int16': this.view.setInt16(at, Number(v), true); break
      case 'uint32': this.view.setUint32(at, Number(v), true); break
      case 'int32': this.view.setInt32(at, Number(v), true); break
      case 'uint64': this.view.setBigUint64(at, BigInt(v), true); break
      case 'int64': this.view.setBigInt64(at, BigInt(v), true); break
    }
  }

  finish (): Uint8Array { return this.buf.subarray(0, this.length) }
}

function validateTensor (tensor: GgufTensor): void {
  const count = tensor.shape.reduce((a, b) => a * b, 1)
  if (tensor.shape.length === 0 || tensor.shape.length > 4 ||
    !tensor.shape.every(d => Number.isInteger(d) && d > 0) || count !== tensor.data.length) {
    throw new DriaError('GGUF_INVALID_TENSOR',
      `tensor ${tensor.name}: shape [${tensor.shape.join(', ')}] does not match ${tensor.data.length} values`)
  }
}

/** Serialises a GGUF v3 file: header, metadata, tensor infos, then 32-byte aligned F32 data. */
export function encodeGguf (model: GgufModel): Uint8Array {
  const w = new ByteWriter()
  const entries = Object.entries(model.metadata)
  w.bytes(Buffer.from(GGUF_MAGIC, 'ascii'))
  w.u32(GGUF_VERSION)
  w.u64(model.tensors.length)
  w.u64(entries.length)

  for (const [key, entry] of entries) {
    w.string(key)
    w.u32(TYPE_IDS[entry.type])
    if (entry.type === 'array') {
      w.u32(TYPE_IDS[entry.itemType])
      w.u64(entry.value.length)
      for (let i = 0; i < entry.value.length; i++) w.item(entry.itemType, entry.value[i], key)
    } else {
      w.item(entry.type, entry.value, key)
    }
  }

  const names = new Set<string>()
  let offset = 0
  for (const tensor of model.tensors) {
    validateTensor(tensor)
    if (names.has(tensor.name)) throw new DriaError('GGUF_INVALID_TENSOR', `duplicate tensor ${tensor.name}`)
    names.add(tensor.name)
    w.string(tensor.name)
    w.u32(tensor.shape.length)
    for (const d of tensor.shape) w.u64(d)
    w.u32(GGML_TYPE_F32)
    w.u64(offset)
    offset = align(offset + tensor.data.byteLength)
  }

  for (const tensor of model.tensors) {
    w.padTo(align(w.length))
    const le = new Uint8Array(tensor.data.length * 4)
    const view = new DataView(le.buffer)
    for (let i = 0; i < tensor.data.length; i++) view.setFloat32(i * 4, tensor.data[i], true)
    w.bytes(le)
  }
  return w.finish()
}

export function sha256Digest (bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

/** Writes a GGUF file atomically: readers see either no file or the whole file. */
export async function writeGguf (path: string, model: GgufModel): Promise<WrittenGguf> {
  const bytes = encodeGguf(model)
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await writeFile(tmp, bytes)
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  return { path, digest: sha256Digest(bytes), sizeBytes: bytes.length }
}
