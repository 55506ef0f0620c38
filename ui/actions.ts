// The page's actions, with the user's identity. Decisions come from the CLI's pure plans
// (cli/keys/plans.ts) so `keys rotate` and the Rotate button can never disagree; create and edit go
// straight to CustomObjectsApi so the API server's validation causes reach the form's fields.
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { ANNOTATIONS, API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { ApiKeyClient } from '../cli/keys/client.ts';
import { CliError } from '../cli/keys/errors.ts';
import type { KubeTarget } from '../cli/keys/kubeconfig.ts';
import { workloadSecret, type ApiKeyObject } from '../cli/keys/model.ts';
import { updateRevokedKeyIds } from '../cli/keys/revoke.ts';
import {
  planDuplicate,
  planHandoff,
  planRevokeKeyId,
  planRotate,
  secretOwnerConflict,
  unknownKeyIdMessage,
} from '../cli/keys/plans.ts';
import { isNotFound } from '../kube/errors.ts';
import { parseEntries, type TrailEntry } from '../operator/audit/trail.ts';
import { ENTRIES_KEY, trailName } from '../operator/audit/trail-store.ts';
import { fieldErrorsOf, specFromForm, type FieldErrors, type KeyForm } from './form.ts';

const RES = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
/** Field manager of the page's writes, so managedFields tells which tool changed a key. */
export const UI_FIELD_MANAGER = 'nemokeys-ui';

export type ActionResult =
  | { ok: true; message: string; name?: string; keyId?: string }
  | { ok: false; errors: FieldErrors };

const refused = (message: string): ActionResult => ({ ok: false, errors: { _form: message } });

/** A thrown API server answer → the form's errors; anything else (network, bug) propagates. */
async function answer(run: () => Promise<ActionResult>): Promise<ActionResult> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof CliError) return refused(err.message);
    const errors = fieldErrorsOf(err);
    if (errors) return { ok: false, errors };
    throw err;
  }
}

export class KeyActions {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly client: ApiKeyClient;
  private readonly now: () => Date;

  constructor(target: KubeTarget, now: () => Date = () => new Date()) {
    this.now = now;
    this.custom = target.kc.makeApiClient(CustomObjectsApi);
    this.core = target.kc.makeApiClient(CoreV1Api);
    this.client = new ApiKeyClient(target);
  }

  static forKubeConfig(kc: KubeConfig, namespace: string): KeyActions {
    const cluster = kc.getCurrentCluster();
    return new KeyActions({
      kc,
      namespace,
      source: 'kubeconfig',
      context: kc.getCurrentContext(),
      server: cluster?.server ?? '',
    });
  }

  create(namespace: string, form: KeyForm): Promise<ActionResult> {
    const { spec, errors } = specFromForm(form, 'create');
    const name = (form.name ?? '').trim();
    if (name === '') errors.name = 'a name is required (e.g. prod-checkout-service)';
    if (Object.keys(errors).length > 0) return Promise.resolve({ ok: false, errors });
    return this.createObject({ apiVersion: API_VERSION, kind: KINDS.apiKey.kind, metadata: { name, namespace }, spec });
  }

  /** The product page's Duplicate: the original's settings (planDuplicate), with the form's changes on top. */
  duplicate(namespace: string, source: string, form: KeyForm): Promise<ActionResult> {
    return answer(async () => {
      const newName = (form.name ?? '').trim();
      if (newName === '') return { ok: false, errors: { name: 'a name for the copy is required' } };
      const { spec, errors } = specFromForm(form, 'create');
      if (Object.keys(errors).length > 0) return { ok: false, errors };
      const copy = planDuplicate(await this.client.get(namespace, source), { newName });
      copy.spec = { ...copy.spec, ...spec };
      const clash = secretOwnerConflict(copy, await this.client.list(namespace).catch(() => []));
      if (clash) return refused(`ApiKey ${clash.metadata.name} already writes Secret ${workloadSecret(copy).name}`);
      return this.createObject(copy);
    });
  }

  private createObject(obj: ApiKeyObject): Promise<ActionResult> {
    return answer(async () => {
      await this.custom.createNamespacedCustomObject({
        ...RES,
        namespace: obj.metadata.namespace!,
        body: obj,
        fieldManager: UI_FIELD_MANAGER,
      });
      return {
        ok: true,
        name: obj.metadata.name,
        message:
          `ApiKey ${obj.metadata.namespace}/${obj.metadata.name} created; ` +
          'the operator issues its key into the workload Secret.',
      };
    });
  }

  /** A merge patch of the form's fields, refused (409 → re-open) if someone changed the key since it was shown. */
  edit(namespace: string, name: string, form: KeyForm, resourceVersion: string | undefined): Promise<ActionResult> {
    const { spec, errors } = specFromForm(form, 'patch');
    if (Object.keys(errors).length > 0) return Promise.resolve({ ok: false, errors });
    return answer(async () => {
      await this.custom.patchNamespacedCustomObject(
        { ...RES, namespace, name, body: { metadata: { resourceVersion }, spec }, fieldManager: UI_FIELD_MANAGER },
        MERGE,
      );
      return { ok: true, name, message: `ApiKey ${namespace}/${name} updated.` };
    }).then((r) =>
      !r.ok && /conflict|modified/i.test(r.errors._form ?? '')
        ? refused(`ApiKey ${namespace}/${name} changed since you opened it; close the form and edit again.`)
        : r,
    );
  }

  rotate(namespace: string, name: string): Promise<ActionResult> {
    return answer(async () => {
      const obj = await this.client.get(namespace, name);
      const plan = planRotate(obj, this.now());
      if (plan.kind === 'refuse') return refused(plan.reason);
      await this.client.patch(namespace, name, { metadata: { annotations: { [ANNOTATIONS.rotate]: plan.value } } });
      return {
        ok: true,
        name,
        keyId: plan.previousKeyId,
        message:
          `Rotation requested: a successor key id is issued; ` +
          `${plan.previousKeyId ?? 'the current key'} stays valid until the hand-off.`,
      };
    });
  }

  /** Whole key (spec.revoked) or one key id (spec.revokedKeyIds, the CLI's guarded read-modify-write). */
  revoke(namespace: string, name: string, keyId: string | undefined): Promise<ActionResult> {
    return answer(async () => {
      if (keyId === undefined) {
        await this.client.patch(namespace, name, { spec: { revoked: true } });
        return { ok: true, name, message: `ApiKey ${namespace}/${name} revoked: every key id is refused.` };
      }
      let result: ActionResult = { ok: true, name, keyId, message: `Key id ${keyId} is already revoked.` };
      await updateRevokedKeyIds(this.client, namespace, name, keyId, (obj) => {
        const plan = planRevokeKeyId(obj, keyId);
        if (plan.kind === 'unknown') throw new CliError(unknownKeyIdMessage(obj, keyId, plan.known));
        if (plan.kind === 'already') return undefined;
        return {
          revokedKeyIds: plan.revokedKeyIds,
          done: () => {
            result = {
              ok: true,
              name,
              keyId,
              message:
                `Key id ${keyId} revoked.` +
                (plan.isCurrent ? ' It was the current key: the operator issues a new one into the Secret.' : ''),
            };
          },
        };
      });
      return result;
    });
  }

  /**
   * Manual hand-off (spec.rotation.handoff.mode: Manual): `keys handoff` without --force — revoke the
   * predecessors once the successor has a last-used time.
   */
  handoff(namespace: string, name: string): Promise<ActionResult> {
    return answer(async () => {
      let result: ActionResult = refused('nothing to hand off');
      await updateRevokedKeyIds(this.client, namespace, name, 'the predecessors', (obj) => {
        const plan = planHandoff(obj, false);
        if (plan.kind === 'refuse') throw new CliError(plan.reason);
        return {
          revokedKeyIds: plan.revokedKeyIds,
          done: () => {
            result = {
              ok: true,
              name,
              keyId: plan.predecessors.join(', '),
              message: `Key id ${plan.predecessors.join(', ')} ` + `revoked: hand-off to ${plan.successor} done.`,
            };
          },
        };
      });
      return result;
    });
  }

  /** The key's audit trail (what `keys history` shows), oldest first; [] while the operator has recorded nothing. */
  async history(
    namespace: string,
    name: string,
  ): Promise<{ ok: true; entries: TrailEntry[] } | { ok: false; errors: FieldErrors }> {
    try {
      const cm = await this.core.readNamespacedConfigMap({ namespace, name: trailName('ApiKey', name) });
      const { entries, error } = parseEntries(cm.data?.[ENTRIES_KEY]);
      return error
        ? { ok: false, errors: { _form: `the audit trail is unreadable: ${error}` } }
        : { ok: true, entries };
    } catch (err) {
      if (isNotFound(err)) return { ok: true, entries: [] };
      const errors = fieldErrorsOf(err);
      if (errors) return { ok: false, errors };
      throw err;
    }
  }

  /** The plaintext key from the workload Secret, read with the user's identity (RBAC decides). */
  async reveal(
    namespace: string,
    name: string,
  ): Promise<{ ok: true; key: string; keyId?: string } | { ok: false; errors: FieldErrors }> {
    try {
      const obj = await this.client.get(namespace, name);
      const secret = workloadSecret(obj);
      const s = await this.core.readNamespacedSecret({ namespace, name: secret.name });
      const data = s.data?.[secret.key];
      if (data === undefined)
        return {
          ok: false,
          errors: { _form: `Secret ${secret.name} has no ${secret.key} yet: wait for the operator.` },
        };
      return {
        ok: true,
        key: Buffer.from(data, 'base64').toString('utf8'),
        keyId: s.metadata?.annotations?.[ANNOTATIONS.keyId],
      };
    } catch (err) {
      if (err instanceof CliError) return { ok: false, errors: { _form: err.message } };
      const errors = fieldErrorsOf(err);
      if (errors) return { ok: false, errors };
      throw err;
    }
  }
}
