import { Ajv } from 'ajv'
import type { ValidateFunction } from 'ajv'
import { DriaError } from '@dria/protocol'
import type { ResponseFormat } from '@dria/protocol'

const ajv = new Ajv({ strict: false, allErrors: false })
/** Compiled validators by schema text; batches reuse one schema across many lines. */
const compiled = new Map<string, ValidateFunction | null>()
const MAX_CACHED_SCHEMAS = 256

/**
 * Keywords a generation grammar cannot enforce (node-llama-cpp's and llama.cpp's ignore them):
 * an honest node's answer may break them, so breaking them proves nothing about the node.
 */
const UNENFORCED = new Set([
  'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'pattern', 'format',
  'minProperties', 'maxProperties', 'uniqueItems', 'contains', 'minContains', 'maxContains',
  'dependentRequired', 'dependentSchemas', 'propertyNames', 'patternProperties', 'if', 'then', 'else', 'not'
])
/** Keywords whose value is a map of names to subschemas (the names are not keywords). */
const NAMED_SCHEMAS = new Set(['properties', '$defs', 'definitions'])
/** Keywords whose value is data, not a schema. */
const DATA = new Set(['enum', 'const', 'required', 'default', 'examples'])

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/** `schema` without the keywords a grammar cannot enforce, at every depth. */
export function enforceablePart (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(enforceablePart)
  if (!isObject(schema)) return schema
  const kept: Record<string, unknown> = {}
  for (const [keyword, value] of Object.entries(schema)) {
    if (UNENFORCED.has(keyword)) continue
    if (DATA.has(keyword)) kept[keyword] = value
    else if (NAMED_SCHEMAS.has(keyword) && isObject(value)) kept[keyword] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, enforceablePart(sub)]))
    else kept[keyword] = enforceablePart(value)
  }
  return kept
}

function validatorFor (schema: Record<string, unknown>): ValidateFunction | null {
  const key = JSON.stringify(schema)
  let validate = compiled.get(key)
  if (validate === undefined) {
    try {
      validate = ajv.compile(enforceablePart(schema) as Record<string, unknown>)
    } catch {
      // A schema Ajv cannot compile cannot be checked here; the node's grammar still applied it.
      validate = null
    }
    if (compiled.size >= MAX_CACHED_SCHEMAS) compiled.clear()
    compiled.set(key, validate)
  }
  return validate
}

function mismatch (message: string): DriaError {
  return new DriaError('RESULT_SCHEMA_MISMATCH', message)
}

/**
 * Structured output must be what was asked for: JSON (json_object) or JSON matching the
 * schema (json_schema) in all a grammar enforces: types, properties, enums, lengths, items.
 * A miss is proof the node did not follow the grammar. Only complete answers are checked:
 * one cut at max_tokens cannot be.
 */
export function checkStructuredOutput (text: string, format: ResponseFormat): void {
  if (format.type === 'text') return
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw mismatch('structured output is not valid JSON')
  }
  if (format.type === 'json_object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw mismatch('json_object output is not a JSON object')
    return
  }
  const validate = validatorFor(format.schema)
  if (validate !== null && !validate(value)) {
    throw mismatch(`output does not match the schema: ${ajv.errorsText(validate.errors)}`)
  }
}
