import { endpointAllowed, endpointLabel, modelSource, type ModelSource } from './scopes.ts';

// Where a route says which model it runs (docs/design.md §4 step 5), decided from the path alone.
// A model-scoped key may only reach the router where the gateway knows the model: routes whose model
// is in the body (read whatever the declared content type), routes that carry it in the path
// (`/openai/deployments/{model}/...`, `/engines/{model}/...`, as Azure-style routers and LiteLLM
// read them), and routes without a model. Batches run models named inside an uploaded file, which the
// gateway cannot see; unknown routes could do anything. Both are refused to model-scoped keys
// (unknown ones unless the operator lists them as pass-through routes).

export type RouteModel =
  | { kind: 'body'; source: ModelSource }
  | { kind: 'path'; model: string; source: ModelSource }
  | { kind: 'batch' }
  | { kind: 'unknown' };

const PATH_MODEL_PREFIXES: readonly (readonly string[])[] = [['openai', 'deployments'], ['engines']];

export function routeModel(method: string, endpoint: string): RouteModel {
  const segments = endpoint.split('/').slice(1);
  for (const prefix of PATH_MODEL_PREFIXES) {
    if (segments.length > prefix.length && prefix.every((p, i) => segments[i] === p)) {
      const model = segments[prefix.length]!;
      if (model.length === 0) return { kind: 'unknown' };
      const rest = `/${segments.slice(prefix.length + 1).join('/')}`;
      // the path names the model; a body may still name one too (checked when present)
      const source = modelSource(method, rest);
      return { kind: 'path', model, source: source === 'json-required' ? 'json-optional' : source };
    }
  }
  if (method === 'POST' && (endpoint === '/batches' || endpoint === '/batches/')) return { kind: 'batch' };
  if (endpointLabel(endpoint) === 'other') return { kind: 'unknown' };
  return { kind: 'body', source: modelSource(method, endpoint) };
}

/** Extra routes the operator lets model-scoped keys through to (same matching as endpoint scopes). */
export function passThrough(routes: readonly string[], endpoint: string): boolean {
  return routes.length > 0 && endpointAllowed(routes, endpoint);
}
