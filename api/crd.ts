import { stringify } from 'yaml';
import { z } from 'zod';
import { ApiKeySpecSchema, ApiKeyStatusSchema } from './apikey.ts';
import { API_VERSION, GROUP, KINDS, VERSION } from './constants.ts';
import { TeamSpecSchema, TeamStatusSchema } from './team.ts';

// CRDs are derived from the zod schemas; crds/ holds the output and a test fails when it is stale.
type Json = { [k: string]: unknown };

/** zod → OpenAPI v3 structural schema the API server accepts. Throws on constructs Kubernetes rejects. */
export function toStructuralSchema(schema: z.ZodType, path = 'schema'): Json {
  const raw = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' }) as Json;
  delete raw.$schema;
  return clean(raw, path);
}

function clean(node: Json, path: string): Json {
  if ('$ref' in node) throw new Error(`${path}: $ref is not allowed in a CRD schema (inline the type)`);
  for (const bad of ['anyOf', 'oneOf', 'allOf', 'not'] as const) {
    if (bad in node) throw new Error(`${path}: ${bad} is not structural; use CEL validations instead`);
  }
  const out: Json = { ...node };
  // Structural schemas forbid additionalProperties beside properties; unknown fields are pruned or, with
  // fieldValidation=Strict, rejected by the API server itself.
  if (out.properties && out.additionalProperties === false) delete out.additionalProperties;
  if (out.format === 'date-time') delete out.pattern; // the API server checks the format itself
  if (typeof out.pattern === 'string' && /\(\?[=!<]/.test(out.pattern)) {
    throw new Error(`${path}: pattern uses a lookaround, which Go RE2 cannot run: ${out.pattern}`);
  }
  if (out.properties) {
    out.properties = Object.fromEntries(
      Object.entries(out.properties as Record<string, Json>).map(([k, v]) => [k, clean(v, `${path}.${k}`)]),
    );
  }
  if (out.items) out.items = clean(out.items as Json, `${path}[]`);
  if (out.additionalProperties && typeof out.additionalProperties === 'object') {
    out.additionalProperties = clean(out.additionalProperties as Json, `${path}{}`);
  }
  if (out.type === 'string' && out.maxLength === undefined && out.enum === undefined && out.format === undefined) {
    throw new Error(`${path}: strings need maxLength so CEL cost estimates stay bounded`);
  }
  if (out.type === 'array' && out.maxItems === undefined) throw new Error(`${path}: arrays need maxItems`);
  return out;
}

type PrinterColumn = { name: string; type: string; jsonPath: string; priority?: number; description?: string };

function crd(
  names: (typeof KINDS)[keyof typeof KINDS],
  spec: z.ZodType,
  status: z.ZodType,
  columns: PrinterColumn[],
  specRequired: boolean,
): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'nemokeys' } },
    spec: {
      group: GROUP,
      names: {
        kind: names.kind,
        listKind: `${names.kind}List`,
        plural: names.plural,
        singular: names.singular,
        ...(names.shortNames.length ? { shortNames: [...names.shortNames] } : {}),
        categories: ['nemokeys'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: `${names.kind} (${API_VERSION})`,
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: toStructuralSchema(spec, 'spec'),
                status: toStructuralSchema(status, 'status'),
              },
              ...(specRequired ? { required: ['spec'] } : {}),
            },
          },
        },
      ],
    },
  };
}

const READY = '.status.conditions[?(@.type=="Ready")].status';

export function teamCrd(): Json {
  return crd(
    KINDS.team,
    TeamSpecSchema,
    TeamStatusSchema,
    [
      { name: 'Models', type: 'string', jsonPath: '.spec.allowedModels' },
      { name: 'Max Expiration', type: 'string', jsonPath: '.spec.maxExpiration' },
      { name: 'Keys', type: 'integer', jsonPath: '.status.keys' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    true,
  );
}

export function apiKeyCrd(): Json {
  return crd(
    KINDS.apiKey,
    ApiKeySpecSchema,
    ApiKeyStatusSchema,
    [
      { name: 'Team', type: 'string', jsonPath: '.spec.team' },
      { name: 'Ready', type: 'string', jsonPath: READY },
      { name: 'Key ID', type: 'string', jsonPath: '.status.currentKeyId' },
      { name: 'Expires', type: 'string', jsonPath: '.status.expiresAt' },
      { name: 'Last Used', type: 'date', jsonPath: '.status.lastUsedAt' },
      { name: 'Requests', type: 'integer', jsonPath: '.status.usage.requests' },
      { name: 'Env', type: 'string', jsonPath: '.spec.environment', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    true,
  );
}

const HEADER = '# Generated by `nemokeys crds` from the zod schemas in api/. Do not edit by hand.\n';

/** One file per CRD, keyed by file name, as written to crds/. */
export function crdFiles(): Record<string, string> {
  return {
    [`${GROUP}_teams.yaml`]: HEADER + stringify(teamCrd(), { lineWidth: 0 }),
    [`${GROUP}_apikeys.yaml`]: HEADER + stringify(apiKeyCrd(), { lineWidth: 0 }),
  };
}

/** All CRDs as one multi-document YAML stream (what `nemokeys crds` prints). */
export function crdYaml(): string {
  return Object.values(crdFiles()).join('---\n');
}
