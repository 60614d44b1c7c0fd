export { registerConsoleRoutes, CONTENT_SECURITY_POLICY } from './console-routes.js'
export { loadStaticAssets } from './static-assets.js'
export type { StaticAsset, StaticAssets } from './static-assets.js'
