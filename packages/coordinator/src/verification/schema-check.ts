import { Ajv } from 'ajv'
import type { ValidateFunction } from 'ajv'
import { DriaError } from '@dria/protocol'
import type { ResponseFormat } from '@dria/protocol'

const ajv = new Ajv({ strict: false, allErrors: false })
/** Compiled validators by schema text; batches reuse one schema across many lines. */
const compiled = new Map<string, ValidateFunction | null>()
const MAX_CACHED_SCHEMAS = 256

function validatorFor (schema: Record<string, unknown>): ValidateFunction | null {
  const key = JSON.stringify(schema)
  let validate = compiled.get(key)
  if (validate === undefined) {
    try {
      validate = ajv.compile(schema)
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
 * schema (json_schema). Only complete answers are checked: one cut at max_tokens cannot be.
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
