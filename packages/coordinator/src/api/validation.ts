import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

function ajvWith (coerceTypes: boolean | 'array'): Ajv {
  // verbose: errors carry the offending value, which OpenAI's messages quote.
  return addFormats(new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: false, strict: false, verbose: true }))
}

const coercing = ajvWith('array')
const exact = ajvWith(false)

/**
 * Query strings and path parameters arrive as text and are coerced (`?limit=5`); JSON bodies
 * are validated as sent, so `metadata: {"k": 7}` is a 400 as at OpenAI, not a silent "7".
 */
export const compileValidator: FastifySchemaCompiler<object> = ({ schema, httpPart }) => {
  return (httpPart === 'body' ? exact : coercing).compile(schema) as ReturnType<FastifySchemaCompiler<object>>
}
