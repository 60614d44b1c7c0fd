import { DriaError } from '@dria/protocol'

/**
 * Why a node cannot start (or warns), each with a stable code. Messages are one line that
 * names what was tried and the fix, because they are what an operator reads first.
 */
export const NodeErrorCode = {
  /** `--engine ollama` (or `--pull`) and nothing answers at `--ollama-host`. */
  OLLAMA_UNREACHABLE: 'OLLAMA_UNREACHABLE',
  /** Ollama answers but has none of its models. */
  OLLAMA_NO_MODELS: 'OLLAMA_NO_MODELS',
  /** A model named in `--models` is not pulled into Ollama. */
  MODEL_NOT_PULLED: 'MODEL_NOT_PULLED',
  /** `ollama pull` failed (unknown name, no network…). */
  PULL_FAILED: 'PULL_FAILED',
  /** A model named in `--models` is not a GGUF file in the models dir. */
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  /** Neither Ollama nor the models dir has anything to serve (and no `--demo-model`). */
  NO_MODELS_FOUND: 'NO_MODELS_FOUND',
  /** Every model measured slower than `--min-tps`. */
  MODELS_TOO_SLOW: 'MODELS_TOO_SLOW',
  /** `--gpu cuda|vulkan` without the matching llama.cpp binaries (or driver). */
  GPU_UNAVAILABLE: 'GPU_UNAVAILABLE',
  /** The P2P port is taken. */
  P2P_PORT_IN_USE: 'P2P_PORT_IN_USE',
  /** The P2P listen address cannot be used (e.g. `--host` is not an address of this machine). */
  P2P_LISTEN_FAILED: 'P2P_LISTEN_FAILED',
  /** The status port is taken. */
  STATUS_PORT_IN_USE: 'STATUS_PORT_IN_USE',
  /** A `--bootstrap` address is not a dialable multiaddr ending in `/p2p/<peer id>`. */
  BOOTSTRAP_INVALID: 'BOOTSTRAP_INVALID',
  /** `--coordinator-url` did not answer with the coordinator's P2P addresses. */
  COORDINATOR_UNREACHABLE: 'COORDINATOR_UNREACHABLE',
  /** An `--announce` address is not a multiaddr. */
  ANNOUNCE_INVALID: 'ANNOUNCE_INVALID',
  /** Warning: no peer connected for a while. */
  NOT_CONNECTED: 'NOT_CONNECTED',
  /** The `--config` file is missing, not JSON, or has unknown or mistyped settings. */
  CONFIG_INVALID: 'CONFIG_INVALID',
  /** `dria-node status` / `models` found no node at the status address. */
  NODE_NOT_RUNNING: 'NODE_NOT_RUNNING'
} as const

export type NodeErrorCodeName = typeof NodeErrorCode[keyof typeof NodeErrorCode]

export function nodeError (code: NodeErrorCodeName, message: string, cause?: unknown): DriaError {
  return new DriaError(code, message, { cause })
}
