// A pod spec's container as `podman run` flags, the way a kubelet would run it: the image, its command and
// args ($(VAR) expanded), env (literal and downward-API fields), the merged pod + container security context,
// emptyDir mounts, the memory limit, the ServiceAccount mount and KUBERNETES_SERVICE_HOST/PORT. The image
// tests run the chart's own rendered specs through this instead of hand-copied flags (docs/design.md §10).
// Anything it cannot honour faithfully is an error, never silently dropped.
import type { V1Container, V1PodSpec, V1Probe, V1SecurityContext } from '@kubernetes/client-node';

export const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface PodRunContext {
  podName: string;
  namespace: string;
  /** Host directory with the ServiceAccount's token, ca.crt and namespace (what the kubelet projects). */
  serviceAccountDir?: string;
  /** The API server as the pod reaches it (KUBERNETES_SERVICE_HOST / _PORT). */
  apiServer?: { host: string; port: number };
}

const PULL: Record<string, string> = { Always: 'always', IfNotPresent: 'missing', Never: 'never' };

/** Kubernetes quantity ("64Mi", "1G", "512") → bytes. */
export function quantityBytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) throw new Error(`unsupported quantity "${q}"`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? ''] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

/** Kubernetes' $(VAR) expansion in command, args and env values: known names only; $$ escapes. */
export function expandVars(text: string, env: Map<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (all, name: string | undefined) =>
    name === undefined ? '$' : (env.get(name) ?? all),
  );
}

function fieldValue(path: string, pod: V1PodSpec, ctx: PodRunContext): string {
  switch (path) {
    case 'metadata.name':
      return ctx.podName;
    case 'metadata.namespace':
      return ctx.namespace;
    case 'spec.serviceAccountName':
      return pod.serviceAccountName ?? 'default';
    default:
      throw new Error(`env fieldRef ${path} is not supported`);
  }
}

/** The container's env in order, as the kubelet resolves it (each value may use the ones before it). */
export function containerEnv(pod: V1PodSpec, c: V1Container, ctx: PodRunContext): Map<string, string> {
  const env = new Map<string, string>();
  if (ctx.apiServer && automountsToken(pod)) {
    env.set('KUBERNETES_SERVICE_HOST', ctx.apiServer.host);
    env.set('KUBERNETES_SERVICE_PORT', String(ctx.apiServer.port));
  }
  for (const e of c.env ?? []) {
    if (e.valueFrom) {
      if (!e.valueFrom.fieldRef)
        throw new Error(`env ${e.name}: only fieldRef values are supported (not ${Object.keys(e.valueFrom)})`);
      env.set(e.name, fieldValue(e.valueFrom.fieldRef.fieldPath, pod, ctx));
    } else {
      env.set(e.name, expandVars(e.value ?? '', env));
    }
  }
  if (c.envFrom?.length) throw new Error(`container ${c.name}: envFrom is not supported`);
  return env;
}

function automountsToken(pod: V1PodSpec): boolean {
  return pod.automountServiceAccountToken !== false;
}

/** Pod-level security context with the container's own fields on top (the container wins). */
export function effectiveSecurityContext(pod: V1PodSpec, c: V1Container): V1SecurityContext {
  const p = pod.securityContext ?? {};
  const inherited: V1SecurityContext = {
    runAsUser: p.runAsUser,
    runAsGroup: p.runAsGroup,
    runAsNonRoot: p.runAsNonRoot,
    seccompProfile: p.seccompProfile,
  };
  const own = Object.fromEntries(Object.entries(c.securityContext ?? {}).filter(([, v]) => v !== undefined));
  return { ...inherited, ...own };
}

function securityFlags(sc: V1SecurityContext, c: V1Container): string[] {
  const flags: string[] = [];
  if (sc.runAsNonRoot) {
    // The kubelet refuses to start a runAsNonRoot container it cannot prove non-root.
    if (sc.runAsUser === undefined) throw new Error(`container ${c.name}: runAsNonRoot needs a numeric runAsUser here`);
    if (sc.runAsUser === 0) throw new Error(`container ${c.name}: runAsNonRoot with runAsUser 0`);
  }
  if (sc.runAsUser !== undefined)
    flags.push(`--user=${sc.runAsUser}${sc.runAsGroup !== undefined ? `:${sc.runAsGroup}` : ''}`);
  // podman's --read-only adds writable tmpfs on /tmp, /var/tmp and /run by default; a pod gets none of them.
  if (sc.readOnlyRootFilesystem) flags.push('--read-only', '--read-only-tmpfs=false');
  if (sc.allowPrivilegeEscalation === false) flags.push('--security-opt=no-new-privileges');
  if (sc.privileged) flags.push('--privileged');
  for (const cap of sc.capabilities?.drop ?? []) flags.push(`--cap-drop=${cap}`);
  for (const cap of sc.capabilities?.add ?? []) flags.push(`--cap-add=${cap}`);
  const seccomp = sc.seccompProfile?.type;
  if (seccomp === 'Unconfined') flags.push('--security-opt=seccomp=unconfined');
  else if (seccomp !== undefined && seccomp !== 'RuntimeDefault')
    throw new Error(`seccomp profile ${seccomp} is not supported`);
  return flags;
}

function mountFlags(pod: V1PodSpec, c: V1Container, ctx: PodRunContext): string[] {
  const flags: string[] = [];
  for (const m of c.volumeMounts ?? []) {
    const v = pod.volumes?.find((x) => x.name === m.name);
    if (!v) throw new Error(`container ${c.name}: volumeMount ${m.name} has no volume`);
    if (!v.emptyDir) throw new Error(`volume ${v.name}: only emptyDir volumes are supported`);
    // An emptyDir is a fresh directory every container user can write; a tmpfs of its size limit is that.
    const size = v.emptyDir.sizeLimit ? `,tmpfs-size=${quantityBytes(String(v.emptyDir.sizeLimit))}` : '';
    flags.push(`--mount=type=tmpfs,destination=${m.mountPath},tmpfs-mode=1777${size}${m.readOnly ? ',ro=true' : ''}`);
  }
  if (automountsToken(pod) && ctx.serviceAccountDir) {
    flags.push(`--volume=${ctx.serviceAccountDir}:${SERVICE_ACCOUNT_MOUNT}:ro`);
  }
  return flags;
}

/**
 * `podman run` arguments (after `run`) for one container of a pod on the host network. The pod's
 * containers share the host's loopback, as they would share the pod's.
 */
export function podmanRunArgs(pod: V1PodSpec, containerName: string, ctx: PodRunContext): string[] {
  const c = pod.containers.find((x) => x.name === containerName);
  if (!c)
    throw new Error(`pod has no container ${containerName} (has ${pod.containers.map((x) => x.name).join(', ')})`);
  if (!c.image) throw new Error(`container ${c.name} has no image`);
  const env = containerEnv(pod, c, ctx);
  const flags = [
    `--name=${ctx.podName}-${c.name}`,
    '--network=host',
    `--pull=${PULL[c.imagePullPolicy ?? 'IfNotPresent']}`,
  ];
  flags.push(...securityFlags(effectiveSecurityContext(pod, c), c));
  for (const g of pod.securityContext?.supplementalGroups ?? []) flags.push(`--group-add=${g}`);
  if (pod.securityContext?.fsGroup !== undefined) flags.push(`--group-add=${pod.securityContext.fsGroup}`);
  flags.push(...mountFlags(pod, c, ctx));
  for (const [k, v] of env) flags.push(`--env=${k}=${v}`);
  const memory = c.resources?.limits?.memory;
  if (memory !== undefined) flags.push(`--memory=${quantityBytes(String(memory))}`);
  const cpu = c.resources?.limits?.cpu;
  if (cpu !== undefined) flags.push(`--cpus=${/^\d+m$/.test(String(cpu)) ? parseInt(String(cpu), 10) / 1000 : cpu}`);
  if (pod.terminationGracePeriodSeconds !== undefined)
    flags.push(`--stop-timeout=${pod.terminationGracePeriodSeconds}`);
  if (c.workingDir) flags.push(`--workdir=${c.workingDir}`);
  // `command` replaces the image's ENTRYPOINT (and then its CMD too); `args` replace CMD.
  if (c.command) flags.push(`--entrypoint=${JSON.stringify(c.command.map((x) => expandVars(x, env)))}`);
  return [...flags, c.image, ...(c.args ?? []).map((a) => expandVars(a, env))];
}

export interface HttpProbe {
  url: string;
  periodSeconds: number;
  initialDelaySeconds: number;
  failureThreshold: number;
}

/** An httpGet probe as the URL the kubelet would call on the host network (named ports resolved). */
export function probeUrl(c: V1Container, probe: V1Probe | undefined, host = '127.0.0.1'): HttpProbe {
  const get = probe?.httpGet;
  if (!get) throw new Error(`container ${c.name}: expected an httpGet probe`);
  const port =
    typeof get.port === 'number' || /^\d+$/.test(String(get.port))
      ? Number(get.port)
      : c.ports?.find((p) => p.name === get.port)?.containerPort;
  if (port === undefined) throw new Error(`container ${c.name}: probe port ${get.port} is not one of its ports`);
  return {
    url: `${(get.scheme ?? 'HTTP').toLowerCase()}://${host}:${port}${get.path ?? '/'}`,
    periodSeconds: probe!.periodSeconds ?? 10,
    initialDelaySeconds: probe!.initialDelaySeconds ?? 0,
    failureThreshold: probe!.failureThreshold ?? 3,
  };
}
