import '@dria/protocol/polyfill'
import { runCli } from './cli.js'

process.exitCode = await runCli(process.argv)
