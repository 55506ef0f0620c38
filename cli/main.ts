import { Command } from 'commander';
import { registerControlPlane } from './controlplane.ts';
import { registerCrds } from './crds.ts';
import { registerDev } from './dev.ts';
import { registerGateway } from './gateway.ts';
import { registerKeys } from './keys.ts';
import { registerOperator } from './operator.ts';
import { registerUi } from './ui.ts';

// Each subcommand lives in its own module and loads its heavy dependencies only when it runs,
// so `--help` stays fast and the gateway never loads operator code.
export function buildCli(): Command {
  const program = new Command('nemokeys')
    .description('API keys for an OpenAI-compatible LLM router, as Kubernetes custom resources')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride((err) => {
      // commander throws for --help/--version too; those are successes, not errors.
      if (err.exitCode === 0) process.exit(0);
      process.exit(err.exitCode);
    });
  registerCrds(program);
  registerKeys(program);
  registerOperator(program);
  registerControlPlane(program);
  registerDev(program);
  registerGateway(program);
  registerUi(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildCli().parseAsync(argv);
}
