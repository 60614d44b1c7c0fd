import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { readGgufFileInfo } from 'node-llama-cpp'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { encodeGguf, writeGguf } from './index.js'
import type { GgufModel } from './index.js'

const model: GgufModel = {
  metadata: {
    'general.architecture': { type: 'string', value: 'llama' },
    'test.u8': { type: 'uint8', value: 255 },
    'test.i8': { type: 'int8', value: -128 },
    'test.u16': { type: 'uint16', value: 65535 },
    'test.i16': { type: 'int16', value: -32768 },
    'test.u32': { type: 'uint32', value: 4294967295 },
    'test.i32': { type: 'int32', value: -2147483648 },
    'test.u64': { type: 'uint64', value: 18446744073709551615n },
    'test.i64': { type: 'int64', value: -9223372036854775808n },
    'test.f32': { type: 'float32', value: 0.5 },
    'test.f64': { type: 'float64', value: 0.1 },
    'test.bool': { type: 'bool', value: true },
    'test.string': { type: 'string', value: 'héllo ▁wörld' },
    'test.strings': { type: 'array', itemType: 'string', value: ['a', '', '<0x0A>'] },
    'test.floats': { type: 'array', itemType: 'float32', value: [1.5, -2] },
    'test.ints': { type: 'array', itemType: 'int32', value: [1, -1] },
    'test.bools': { type: 'array', itemType: 'bool', value: [true, false] }
  },
  tensors: [
    // 3 floats = 12 bytes: the next tensor needs padding to the 32-byte alignment.
    { name: 'a', shape: [3], data: new Float32Array([1, 2, 3]) },
    { name: 'b', shape: [2, 2], data: new Float32Array([-1, 0.25, 1e-7, 3.5]) }
  ]
}

describe('writeGguf', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dria-gguf-writer-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('writes a GGUF v3 file that node-llama-cpp parses back', async () => {
    const path = join(dir, 'test.gguf')
    const written = await writeGguf(path, model)
    const bytes = await readFile(path)
    expect(written).toEqual({
      path,
      digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      sizeBytes: bytes.length
    })
    expect(bytes.subarray(0, 4).toString('ascii')).toBe('GGUF')
    expect(bytes.readUInt32LE(4)).toBe(3)

    const info = await readGgufFileInfo(path, { logWarnings: false })
    expect(info.version).toBe(3)
    const test = (info.metadata as unknown as { test: Record<string, unknown> }).test
    expect(test).toEqual({
      u8: 255,
      i8: -128,
      u16: 65535,
      i16: -32768,
      u32: 4294967295,
      i32: -2147483648,
      u64: 18446744073709551615n,
      i64: -9223372036854775808n,
      f32: 0.5,
      f64: 0.1,
      bool: true,
      string: 'héllo ▁wörld',
      strings: ['a', '', '<0x0A>'],
      floats: [1.5, -2],
      ints: [1, -1],
      bools: [true, false]
    })

    const tensors = info.tensorInfo ?? []
    expect(tensors.map(t => [t.name, t.dimensions.map(Number), t.ggmlType, Number(t.offset)]))
      .toEqual([['a', [3], 0, 0], ['b', [2, 2], 0, 32]])
    const dataStart = info.infoEndOffset as number
    expect(dataStart % 32).toBe(0)
    for (const [i, tensor] of model.tensors.entries()) {
      const at = Number(tensors[i].fileOffset)
      const values = Array.from({ length: tensor.data.length }, (_, j) => bytes.readFloatLE(at + j * 4))
      expect(values).toEqual(Array.from(tensor.data))
    }
    expect(bytes.length).toBe(dataStart + 32 + 16)
  })

  it('encodes the same model to the same bytes', () => {
    expect(Buffer.from(encodeGguf(model)).equals(Buffer.from(encodeGguf(model)))).toBe(true)
  })

  it('removes its temporary file when the final rename fails', async () => {
    // A directory in the way: the temp file is written, then rename() fails.
    await mkdir(join(dir, 'taken'))
    await writeFile(join(dir, 'taken', 'keep'), 'x')
    await expect(writeGguf(join(dir, 'taken'), model)).rejects.toMatchObject({ code: expect.any(String) })
    expect(await readdir(dir)).toEqual(['taken'])
  })

  it('rejects values that do not fit their type', () => {
    for (const value of [256, -1, 1.5]) {
      expect(() => encodeGguf({ metadata: { x: { type: 'uint8', value } }, tensors: [] }))
        .toThrow(expect.objectContaining({ code: 'GGUF_INVALID_VALUE' }))
    }
    expect(() => encodeGguf({ metadata: { x: { type: 'array', itemType: 'int32', value: [2 ** 31] } }, tensors: [] }))
      .toThrow(expect.objectContaining({ code: 'GGUF_INVALID_VALUE' }))
  })

  it('rejects tensors whose shape does not match their data, and duplicate names', () => {
    const tensor = { name: 't', shape: [2, 2], data: new Float32Array(3) }
    expect(() => encodeGguf({ metadata: {}, tensors: [tensor] }))
      .toThrow(expect.objectContaining({ code: 'GGUF_INVALID_TENSOR' }))
    const ok = { name: 't', shape: [3], data: new Float32Array(3) }
    expect(() => encodeGguf({ metadata: {}, tensors: [ok, ok] }))
      .toThrow(expect.objectContaining({ code: 'GGUF_INVALID_TENSOR' }))
  })
})
