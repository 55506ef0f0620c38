// `nemokeys keys …` (also `kubectl nemokeys keys …`): the product page's keys page in a terminal.
// Only wiring lives here; each action loads its module (and @kubernetes/client-node) when it runs,
// so --help works without a cluster and stays fast.
import { Option, type Command } from 'commander';

const outputOption = () =>
  new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table');

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('list, describe, rotate, hand off, revoke and duplicate ApiKeys (keys.nemorouter.io)')
    // kubectl's global flags, accepted before or after the subcommand as kubectl users type them.
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context to use (default: its current context)')
    .option('-n, --namespace <namespace>', 'namespace (default: the context\'s namespace, else "default")')
    .configureHelp({ showGlobalOptions: true });

  keys
    .command('list')
    .alias('ls')
    .description('table of ApiKeys sorted by name: scopes, current and superseded key ids, state, expiry, usage')
    .option('-A, --all-namespaces', 'list ApiKeys in every namespace')
    .addOption(outputOption())
    .action(async (_opts: object, cmd: Command) => {
      const { runList } = await import('./keys/list.ts');
      await runList(cmd.optsWithGlobals());
    });

  keys
    .command('describe')
    .argument('<name>', 'ApiKey name')
    .description('everything about one ApiKey: scopes, limits, rotation, key id lineage, conditions (never the key)')
    .addOption(outputOption())
    .action(async (name: string, _opts: object, cmd: Command) => {
      const { runDescribe } = await import('./keys/describe.ts');
      await runDescribe(name, cmd.optsWithGlobals());
    });

  keys
    .command('rotate')
    .argument('<name>', 'ApiKey name')
    .description('request a successor key (new key id, same scopes); the old key stays valid until the hand-off')
    .option('--wait', 'wait until the operator has issued the successor and print its key id')
    .option('--timeout <duration>', 'how long --wait waits (e.g. 30s, 2m)', '2m')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const { runRotate } = await import('./keys/rotate.ts');
      await runRotate(name, cmd.optsWithGlobals());
    });

  keys
    .command('revoke')
    .argument('<name>', 'ApiKey name')
    .description('revoke every key id of an ApiKey, or with --key-id just one (e.g. a superseded key still in use)')
    .option('--key-id <id>', 'revoke only this key id (see "keys describe")')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const { runRevoke } = await import('./keys/revoke.ts');
      await runRevoke(name, cmd.optsWithGlobals());
    });

  keys
    .command('history')
    .argument('<name>', 'ApiKey name')
    .description('audit trail, newest last: time, action, key id, who (Kubernetes user) and from which IP')
    .addOption(outputOption())
    .action(async (name: string, _opts: object, cmd: Command) => {
      const { runHistory } = await import('./keys/history.ts');
      await runHistory(name, cmd.optsWithGlobals());
    });

  keys
    .command('handoff')
    .argument('<name>', 'ApiKey name')
    .description(
      'finish a rotation: revoke the predecessor key ids once the successor has been used (see LAST USED in describe)',
    )
    .option('--force', 'revoke the predecessors even though the successor was never used')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const { runHandoff } = await import('./keys/handoff.ts');
      await runHandoff(name, cmd.optsWithGlobals());
    });

  keys
    .command('duplicate')
    .argument('<name>', 'ApiKey to copy')
    .argument('<new-name>', 'name of the new ApiKey')
    .description('create a new ApiKey with the same scopes and settings (its own key id and Secret)')
    .option('--secret-name <name>', 'workload Secret of the copy (default: NEW-NAME)')
    .action(async (name: string, newName: string, _opts: object, cmd: Command) => {
      const { runDuplicate } = await import('./keys/duplicate.ts');
      await runDuplicate(name, newName, cmd.optsWithGlobals());
    });
}
