import '@dria/protocol/polyfill'
import { runNodeCli } from './cli.js'

await runNodeCli(process.argv)
