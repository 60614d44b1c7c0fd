export { startS3Server } from './server.js'
export type { S3Server, S3ServerInit } from './server.js'
