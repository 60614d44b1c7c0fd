import { readFileSync } from 'node:fs'
import type { ResponseFormatJSONSchema } from 'openai/resources/shared'
import { usageError } from '../errors.js'

const TYPES = new Set(['string', 'number', 'integer', 'boolean'])
const NAME = /^[A-Za-z_][\w-]{0,63}$/

type JsonSchema = Record<string, unknown>

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * `--schema 'sentiment,confidence:number'`: an object with these required fields, each
 * `name[:type]` with type string (default), number, integer or boolean, `[]` for a list.
 */
export function schemaFromFields (spec: string): JsonSchema {
  const properties: Record<string, JsonSchema> = {}
  for (const field of spec.split(',').map(f => f.trim()).filter(f => f !== '')) {
    const [name, rawType = 'string', ...rest] = field.split(':').map(s => s.trim())
    const list = rawType.endsWith('[]')
    const type = list ? rawType.slice(0, -2) : rawType
    if (rest.length > 0 || !NAME.test(name) || !TYPES.has(type)) {
      throw usageError('INVALID_SCHEMA', `--schema: "${field}" is not name[:type] with type string, number, integer or boolean (add [] for a list)`)
    }
    if (Object.hasOwn(properties, name)) throw usageError('INVALID_SCHEMA', `--schema: field "${name}" appears twice`)
    properties[name] = list ? { type: 'array', items: { type } } : { type }
  }
  if (Object.keys(properties).length === 0) throw usageError('INVALID_SCHEMA', '--schema: no fields given, e.g. --schema \'sentiment,confidence:number\'')
  return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false }
}

/** `--schema-file`: a JSON schema, OpenAI's `json_schema` object `{name, schema}`, or a whole `response_format`. */
export function schemaFromFile (path: string): { name?: string, schema: JsonSchema } {
  let value: unknown
  try {
    value = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw usageError('INVALID_SCHEMA', `--schema-file: cannot read ${path}: ${code ?? (err as Error).message}`)
  }
  if (isObject(value) && value.type === 'json_schema' && isObject(value.json_schema)) value = value.json_schema
  if (isObject(value) && isObject(value.schema)) return { name: typeof value.name === 'string' ? value.name : undefined, schema: value.schema }
  if (isObject(value) && (typeof value.type === 'string' || isObject(value.properties))) return { schema: value }
  throw usageError('INVALID_SCHEMA', `--schema-file: ${path} is not a JSON schema object`)
}

/** The structured-output request for `--schema` or `--schema-file` (at most one of them). */
export function responseFormatOf (options: { schema?: string, schemaFile?: string }): ResponseFormatJSONSchema | undefined {
  if (options.schema !== undefined && options.schemaFile !== undefined) throw usageError('INVALID_SCHEMA', 'use --schema or --schema-file, not both')
  if (options.schema !== undefined) return { type: 'json_schema', json_schema: { name: 'output', schema: schemaFromFields(options.schema), strict: true } }
  if (options.schemaFile === undefined) return undefined
  const { name, schema } = schemaFromFile(options.schemaFile)
  return { type: 'json_schema', json_schema: { name: name ?? 'output', schema, strict: true } }
}
