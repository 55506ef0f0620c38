// Wires the reminder controller into the leader's controllers (operator/main.ts).
import { GROUP, KINDS, VERSION } from '../../api/constants.ts';
import { createKubeWriter } from '../apikey/kube-writer.ts';
import type { ApiKeyObject, TeamObject } from '../apikey/types.ts';
import type { OperatorContext } from '../runtime/context.ts';
import { objectKey } from '../runtime/types.ts';
import { createReminderReconciler, kubeMarksWriter } from './controller.ts';
import type { Mailer } from './mailer.ts';

export async function registerReminders(ctx: OperatorContext, mailer: Mailer): Promise<void> {
  const watched = ctx.watchNamespace ? { namespace: ctx.watchNamespace } : {};
  const apiKeys = ctx.customObjectInformer<ApiKeyObject>({ group: GROUP, version: VERSION, plural: KINDS.apiKey.plural, ...watched });
  const teams = ctx.customObjectInformer<TeamObject>({ group: GROUP, version: VERSION, plural: KINDS.team.plural, ...watched });
  const writer = createKubeWriter(ctx.kc);
  const queue = ctx.runController(createReminderReconciler({
    apiKeys, teams, mailer, clock: ctx.clock, log: ctx.log.child({ controller: 'reminders' }), registry: ctx.metrics.registry,
    writeMarks: kubeMarksWriter(ctx.kc),
    createEvent: (ak, ev, now) => writer.createEvent(ak, ev, now),
  }), { workers: 2 });
  apiKeys.onChange((ak) => queue.enqueue(objectKey(ak)));
  teams.onChange((team) => {
    for (const ak of apiKeys.list(team.metadata?.namespace)) {
      if ((ak.spec as { team?: string } | undefined)?.team === team.metadata?.name) queue.enqueue(objectKey(ak));
    }
  });
}
