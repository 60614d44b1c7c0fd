export { listenError, validateAnnounce, validateBootstrap } from './addresses.js'
export { watchConnectivity } from './connectivity.js'
export type { ConnectivityWatch } from './connectivity.js'
export { bootstrapFromInfo, resolveCoordinatorUrl } from './coordinator-url.js'
