import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { USAGE_DATA_KEY } from './constants.ts';
import { timestamp } from './fields.ts';

// The usage report a gateway replica writes (one labelled ConfigMap per replica in the records
// namespace) and the ONE codec for it: the gateway encodes and reads it back (its own counts and its
// peers' spend), the operator decodes it to sum replicas into ApiKey status (docs/design.md §4).
//
// - `keys`: cumulative counts per key id for this replica's identity, so the operator's sum over
//   replicas is exact across restarts; key ids whose records are gone leave the report.
// - `keys[id].spend`: credits this replica's identity admitted through the key id in its ApiKey's
//   current budget window, so budgets survive restarts and are enforced across replicas (per key id,
//   not per ApiKey, so each report names a key once; gateways sum them per ApiKey through the records).
// - `instance`: a random id per gateway process, so two live replicas sharing a gateway id notice.
// - `absorbed`: set on the operator's archive report only (api/usage-archive.ts): the reports of
//   gone replicas folded into it, so nobody counts them twice.
//
// On the wire the report is compact JSON (arrays instead of objects, times in epoch ms), gzipped in
// `binaryData`: 10 000 used keys take a few hundred KiB, far below the 1 MiB object limit (see
// test/usage-report-size.test.ts). Reports of earlier gateways (plain JSON in `data`) still decode.

export const USAGE_GZ_DATA_KEY = `${USAGE_DATA_KEY}.gz`;
const WIRE_VERSION = 2;

export const WindowSpendSchema = z.object({ window: z.string().min(1), credits: z.number().int().min(0) }).strict();

export const KeyUsageSchema = z
  .object({
    requests: z.number().int().min(0),
    credits: z.number().int().min(0),
    lastUsedAt: timestamp(),
    spend: WindowSpendSchema.optional(),
  })
  .strict();

export const UsageReportSchema = z
  .object({
    gateway: z.string().min(1),
    instance: z.string().optional(),
    updatedAt: timestamp(),
    keys: z.record(z.string(), KeyUsageSchema),
    absorbed: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export type KeyUsage = z.infer<typeof KeyUsageSchema>;
export type WindowSpend = z.infer<typeof WindowSpendSchema>;
export type UsageReport = z.infer<typeof UsageReportSchema>;

const count = z.number().int().min(0);
const WireSchema = z
  .object({
    v: z.literal(WIRE_VERSION),
    gateway: z.string().min(1),
    instance: z.string().optional(),
    updatedAt: count,
    /** key id → [requests, credits, seconds from lastUsedAt to updatedAt, lastUsedAt's ms part, spend window, spend credits] */
    keys: z.record(
      z.string(),
      z.union([
        z.tuple([count, count, count, z.number().int().min(0).max(999)]),
        z.tuple([count, count, count, z.number().int().min(0).max(999), z.string().min(1), count]),
      ]),
    ),
    /** The archive only (api/usage-archive.ts): report ConfigMap name → resourceVersion it absorbed. */
    absorbed: z.record(z.string(), z.string()).optional(),
  })
  .strict();

/** The ConfigMap payload of a report (goes into `binaryData`, base64 as the API expects). */
export function encodeUsageReport(report: UsageReport): { binaryData: Record<string, string> } {
  const updatedMs = Date.parse(report.updatedAt);
  const updatedS = Math.floor(updatedMs / 1000);
  // Times relative to the report's own: small numbers, a few bytes each (lastUsedAt keeps its ms).
  const keys: Record<string, Array<number | string>> = {};
  for (const [id, u] of Object.entries(report.keys)) {
    const last = Date.parse(u.lastUsedAt);
    keys[id] = [u.requests, u.credits, Math.max(0, updatedS - Math.floor(last / 1000)), ((last % 1000) + 1000) % 1000];
    if (u.spend) keys[id].push(u.spend.window, u.spend.credits);
  }
  const wire = {
    v: WIRE_VERSION,
    gateway: report.gateway,
    ...(report.instance ? { instance: report.instance } : {}),
    updatedAt: updatedMs,
    keys,
    ...(report.absorbed ? { absorbed: report.absorbed } : {}),
  };
  return { binaryData: { [USAGE_GZ_DATA_KEY]: gzipSync(JSON.stringify(wire)).toString('base64') } };
}

export type DecodedUsageReport = { ok: true; report: UsageReport } | { ok: false; error: string };

/** Decodes a usage ConfigMap's payload; never throws (a bad report gets a message saying what is wrong). */
export function decodeUsageReport(cm: {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}): DecodedUsageReport {
  const gz = cm.binaryData?.[USAGE_GZ_DATA_KEY];
  if (gz !== undefined) return decodeWire(gz);
  const legacy = cm.data?.[USAGE_DATA_KEY];
  if (legacy === undefined)
    return { ok: false, error: `neither binaryData.${USAGE_GZ_DATA_KEY} nor data.${USAGE_DATA_KEY} is set` };
  const parsed = UsageReportSchema.safeParse(parseJson(legacy));
  return parsed.success
    ? { ok: true, report: parsed.data }
    : { ok: false, error: `data.${USAGE_DATA_KEY}: ${z.prettifyError(parsed.error)}` };
}

function decodeWire(base64: string): DecodedUsageReport {
  let text: string;
  try {
    text = gunzipSync(Buffer.from(base64, 'base64')).toString('utf8');
  } catch {
    return { ok: false, error: `binaryData.${USAGE_GZ_DATA_KEY} is not gzip` };
  }
  const w = WireSchema.safeParse(parseJson(text));
  if (!w.success) return { ok: false, error: `binaryData.${USAGE_GZ_DATA_KEY}: ${z.prettifyError(w.error)}` };
  const iso = (ms: number) => new Date(ms).toISOString();
  const keys: Record<string, KeyUsage> = {};
  const updatedS = Math.floor(w.data.updatedAt / 1000);
  for (const [id, [requests, credits, ago, ms, window, spent]] of Object.entries(w.data.keys)) {
    keys[id] = { requests, credits, lastUsedAt: iso((updatedS - ago) * 1000 + ms) };
    if (window !== undefined && spent !== undefined) keys[id].spend = { window, credits: spent };
  }
  const report: UsageReport = { gateway: w.data.gateway, updatedAt: iso(w.data.updatedAt), keys };
  if (w.data.instance) report.instance = w.data.instance;
  if (w.data.absorbed) report.absorbed = w.data.absorbed;
  return { ok: true, report };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
