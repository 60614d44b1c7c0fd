export { modelCid } from './model-cid.js'
export {
  CAPACITY_RECORD_NAMESPACE, capacityRecordKey, signCapacityRecord, openCapacityRecord,
  capacityRecordValidator, capacityRecordSelector, MAX_RECORD_CLOCK_SKEW_MS
} from './capacity-record.js'
export type { RecordValidator, RecordSelector } from './capacity-record.js'
export { ResultSigner, ResultVerifier, signTaskResult, verifyTaskResult } from './task-result.js'
