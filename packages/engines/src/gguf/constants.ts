/** Name the generated model is served under (its file is `<name>.gguf`). */
export const GENERATED_MODEL_NAME = 'dria-tiny'

/** Seed of the generated model: every node that generates it gets the same bytes. */
export const DEFAULT_MODEL_SEED = 1

export const GGUF_MAGIC = 'GGUF'
export const GGUF_VERSION = 3
/** Tensor data alignment; GGUF readers assume 32 when `general.alignment` is absent. */
export const GGUF_ALIGNMENT = 32
