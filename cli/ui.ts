// `nemokeys ui`: the product page's keys page, served locally with the user's own kubeconfig identity.
// The URL (with its per-run token) is the FIRST line of output, so scripts and `nemokeys dev` can read it.
import type { Command } from 'commander';
import { parseDurationMs } from '../api/duration.ts';
import { CliError } from './keys/errors.ts';
import type { KubeFlags } from './keys/kubeconfig.ts';

interface UiCliOptions extends KubeFlags {
  listen: string;
  idleAfter: string;
}

export function registerUi(program: Command): void {
  program
    .command('ui')
    .description(
      'serve the keys page (list, live usage, create/duplicate/edit/rotate/revoke) on 127.0.0.1; prints its URL first',
    )
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context to use (default: its current context)')
    .option('-n, --namespace <namespace>', 'namespace the page opens on (default: the context\'s, else "default")')
    .option('--listen <host:port>', 'address to serve on; port 0 picks a free one', '127.0.0.1:0')
    .option(
      '--idle-after <duration>',
      'mark keys unused for this long (or never used since) as candidates to revoke',
      '30d',
    )
    .action(async (opts: UiCliOptions) => {
      const ui = await startUiFromFlags(opts);
      process.stdout.write(`${ui.url}\n`);
      process.stdout.write('Open the URL above (it holds a one-run token; do not share it). Ctrl-C stops the page.\n');
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      await ui.close();
    });
}

export async function startUiFromFlags(opts: KubeFlags & { listen?: string; idleAfter?: string }) {
  const [{ loadKubeTarget }, { parseListen, DEFAULT_LISTEN }, { startUi }] = await Promise.all([
    import('./keys/kubeconfig.ts'),
    import('../ui/listen.ts'),
    import('../ui/server.ts'),
  ]);
  const idleAfterMs = parseDurationMs(opts.idleAfter ?? '30d');
  if (idleAfterMs === undefined)
    throw new CliError(`--idle-after ${opts.idleAfter}: expected a duration such as 7d or 30d`);
  const listen = parseListen(opts.listen ?? DEFAULT_LISTEN);
  if (!listen.loopback) {
    process.stderr.write(
      `warning: --listen ${opts.listen} is not a loopback address: anyone who can reach it and ` +
        'has the URL acts with your Kubernetes credentials.\n',
    );
  }
  const target = loadKubeTarget(opts);
  return startUi({ kc: target.kc, namespace: target.namespace, listen, idleAfterMs });
}
