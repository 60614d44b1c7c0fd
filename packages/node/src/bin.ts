import '@dria/protocol/polyfill'
import { runNodeCli } from './cli/index.js'

await runNodeCli(process.argv)
