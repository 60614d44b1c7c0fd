import { createRequire } from 'node:module'
import { Command } from 'commander'
import { benchmarkCommand, setupCommand, startCommand, statusCommand } from './commands.js'
import {
  configOption, connectWarnOption, dataDirOption, engineOptions, jsonOption, logOptions, metricsPortOption, networkOptions, roundsOption
} from './options.js'
import { option, parseInteger } from '@dria/protocol'
import { DEFAULT_STATUS_PORT } from '../constants.js'

const statusPortOption = () => option('--status-port <port>', 'status port of the running node', 'DRIA_STATUS_PORT', DEFAULT_STATUS_PORT).argParser(parseInteger(1, 65535))

export async function runNodeCli (argv: string[]): Promise<void> {
  const program = new Command('dria-node').description('Dria network node: serves local models to the network')
    .version((createRequire(import.meta.url)('../../package.json') as { version: string }).version, '-V, --version')
  const command = (name: string, description: string, options: ReturnType<typeof networkOptions>): Command => {
    const cmd = program.command(name).description(description)
    for (const opt of options) cmd.addOption(opt)
    return cmd
  }

  command('start', 'start the node daemon', [
    configOption('settings file, e.g. written by `dria-node setup`'), dataDirOption(), ...networkOptions(), ...engineOptions(), connectWarnOption(), metricsPortOption(), ...logOptions()
  ]).action(async (_opts, cmd: Command) => { await startCommand(cmd) })

  command('setup', 'detect cores, memory, GPUs and models, measure the models, and write the config `start` reads', [
    configOption('where to write the config'), dataDirOption(), ...networkOptions(), ...engineOptions(), roundsOption(), jsonOption(), ...logOptions()
  ]).action(async (_opts, cmd: Command) => { await setupCommand(cmd) })

  command('benchmark', 'measure the speed of every model this node would serve', [
    configOption('settings file to read'), dataDirOption(), ...engineOptions(), roundsOption(), jsonOption(), ...logOptions()
  ]).action(async (_opts, cmd: Command) => { await benchmarkCommand(cmd) })

  command('status', 'what the running node is doing: peers, models, tasks, tokens, what coordinators report', [
    configOption('settings file to read (for --status-port)'), dataDirOption(), statusPortOption(), jsonOption()
  ]).action(async (_opts, cmd: Command) => { await statusCommand(cmd, 'status') })

  command('models', 'the models the running node found: served or not (and why), at what speed', [
    configOption('settings file to read (for --status-port)'), dataDirOption(), statusPortOption(), jsonOption()
  ]).action(async (_opts, cmd: Command) => { await statusCommand(cmd, 'models') })

  await program.parseAsync(argv)
}
