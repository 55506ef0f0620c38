// Wires the reminder controller into the leader's controllers (operator/main.ts).
import { createKubeWriter } from '../apikey/kube-writer.ts';
import type { SharedInformers } from '../controllers.ts';
import type { OperatorContext } from '../runtime/context.ts';
import { objectKey } from '../runtime/types.ts';
import { createReminderReconciler, kubeMarksWriter } from './controller.ts';
import type { Mailer } from './mailer.ts';

/** Reads the ApiKeys and Teams of the key controllers' caches (operator/controllers.ts): no watch of its own. */
export async function registerReminders(
  ctx: OperatorContext,
  mailer: Mailer,
  { apiKeys, teams }: SharedInformers,
): Promise<void> {
  const writer = createKubeWriter(ctx.kube);
  const queue = ctx.runController(
    createReminderReconciler({
      apiKeys,
      teams,
      mailer,
      clock: ctx.clock,
      log: ctx.log.child({ controller: 'reminders' }),
      registry: ctx.metrics.registry,
      writeMarks: kubeMarksWriter(ctx.kube),
      createEvent: (ak, ev, now) => writer.createEvent(ak, ev, now),
    }),
    { workers: 2 },
  );
  apiKeys.onChange((ak) => queue.enqueue(objectKey(ak)));
  teams.onChange((team) => {
    for (const ak of apiKeys.list(team.metadata?.namespace)) {
      if ((ak.spec as { team?: string } | undefined)?.team === team.metadata?.name) queue.enqueue(objectKey(ak));
    }
  });
}
