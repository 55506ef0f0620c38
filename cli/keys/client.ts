// The only module that talks to the API server: ApiKey reads and writes through CustomObjectsApi,
// with every failure turned into a CliError that says what to do.
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { GROUP, KINDS, VERSION } from '../../api/index.ts';
import { CliError, classifyKubeError, explainFailure, unknownApiKeyMessage, type CallInfo } from './errors.ts';
import { loadKubeTarget, type KubeFlags, type KubeTarget } from './kubeconfig.ts';
import { CLI_FIELD_MANAGER, type ApiKeyObject } from './model.ts';

const RES = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };

export class ApiKeyClient {
  readonly target: KubeTarget;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(target: KubeTarget) {
    this.target = target;
    this.custom = target.kc.makeApiClient(CustomObjectsApi);
    this.core = target.kc.makeApiClient(CoreV1Api);
  }

  private async call<T>(info: CallInfo, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw new CliError(explainFailure(classifyKubeError(err), info, this.target));
    }
  }

  /** ApiKeys in one namespace, or in all when namespace is undefined (-A). */
  async list(namespace: string | undefined, fieldSelector?: string): Promise<ApiKeyObject[]> {
    const res = (await this.call({ verb: 'list', namespace }, () =>
      namespace === undefined
        ? this.custom.listClusterCustomObject({ ...RES, fieldSelector })
        : this.custom.listNamespacedCustomObject({ ...RES, namespace, fieldSelector }),
    )) as { items?: ApiKeyObject[] };
    return res.items ?? [];
  }

  /** Like list, but an empty namespace that does not exist is an error, not "no ApiKeys". */
  async listExisting(namespace: string): Promise<ApiKeyObject[]> {
    const items = await this.list(namespace);
    if (items.length === 0 && (await this.namespaceExists(namespace)) === false) {
      throw new CliError(
        `namespace "${namespace}" not found. List namespaces with "kubectl get namespaces", or use -A.`,
      );
    }
    return items;
  }

  async get(namespace: string, name: string): Promise<ApiKeyObject> {
    try {
      return (await this.custom.getNamespacedCustomObject({ ...RES, namespace, name })) as ApiKeyObject;
    } catch (err) {
      const failure = classifyKubeError(err);
      if (failure.kind === 'not-found' && failure.resource === KINDS.apiKey.plural) {
        throw new CliError(await this.notFoundMessage(namespace, name));
      }
      throw new CliError(explainFailure(failure, { verb: 'get', namespace, name }, this.target));
    }
  }

  /** JSON merge patch; include metadata.resourceVersion in the body to make it conditional (409 if stale). */
  async patch(namespace: string, name: string, body: object): Promise<ApiKeyObject> {
    return (await this.call({ verb: 'patch', namespace, name }, () =>
      this.custom.patchNamespacedCustomObject(
        { ...RES, namespace, name, body, fieldManager: CLI_FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    )) as ApiKeyObject;
  }

  /** Like patch, but a 409 is returned as undefined so the caller can re-read and retry. */
  async patchIfUnchanged(namespace: string, name: string, body: object): Promise<ApiKeyObject | undefined> {
    try {
      return (await this.custom.patchNamespacedCustomObject(
        { ...RES, namespace, name, body, fieldManager: CLI_FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )) as ApiKeyObject;
    } catch (err) {
      const failure = classifyKubeError(err);
      if (failure.kind === 'conflict') return undefined;
      throw new CliError(explainFailure(failure, { verb: 'patch', namespace, name }, this.target));
    }
  }

  async create(obj: ApiKeyObject): Promise<ApiKeyObject> {
    const namespace = obj.metadata.namespace ?? this.target.namespace;
    return (await this.call({ verb: 'create', namespace, name: obj.metadata.name }, () =>
      this.custom.createNamespacedCustomObject({ ...RES, namespace, body: obj, fieldManager: CLI_FIELD_MANAGER }),
    )) as ApiKeyObject;
  }

  /** false only when the server says the namespace does not exist; undefined when we may not ask. */
  async namespaceExists(name: string): Promise<boolean | undefined> {
    try {
      await this.core.readNamespace({ name });
      return true;
    } catch (err) {
      const f = classifyKubeError(err);
      return f.kind === 'not-found' ? false : undefined;
    }
  }

  /** "not found", plus what the user probably meant: the ApiKeys that do exist here, or elsewhere. */
  private async notFoundMessage(namespace: string, name: string): Promise<string> {
    if ((await this.namespaceExists(namespace)) === false) {
      return `namespace "${namespace}" not found. List namespaces with "kubectl get namespaces".`;
    }
    const here = await this.list(namespace).catch(() => undefined);
    // The server filters by name, so this stays cheap on a cluster with thousands of ApiKeys.
    const elsewhere = await this.list(undefined, `metadata.name=${name}`)
      .then((all) => all.map((o) => o.metadata.namespace ?? ''))
      .catch(() => [] as string[]);
    return unknownApiKeyMessage(
      name,
      namespace,
      here?.map((o) => o.metadata.name),
      elsewhere,
    );
  }
}

export function openClient(flags: KubeFlags): ApiKeyClient {
  return new ApiKeyClient(loadKubeTarget(flags));
}
