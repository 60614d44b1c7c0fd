export { modelCid } from './model-cid.js'
export {
  CAPACITY_RECORD_NAMESPACE, capacityRecordKey, signCapacityRecord, openCapacityRecord,
  capacityRecordValidator, capacityRecordSelector
} from './capacity-record.js'
export type { RecordValidator, RecordSelector } from './capacity-record.js'
export { signTaskResult, verifyTaskResult } from './task-result.js'
