export * from './webhook-sender.js'
export { isPublicAddress, parseWebhookUrl, resolveWebhookTarget } from './target.js'
export type { TargetPolicy, WebhookTarget } from './target.js'
