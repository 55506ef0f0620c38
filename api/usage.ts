import { z } from 'zod';
import { timestamp } from './fields.ts';

// Usage a gateway replica reports (one labelled ConfigMap per replica in the records namespace).
// Counts are cumulative for that replica's identity, so the operator's sum over replicas is exact
// across restarts and the write rate is one object per replica per interval whatever the traffic.
export const KeyUsageSchema = z
  .object({
    requests: z.number().int().min(0),
    credits: z.number().int().min(0),
    lastUsedAt: timestamp(),
  })
  .strict();

export const UsageReportSchema = z
  .object({
    gateway: z.string().min(1),
    updatedAt: timestamp(),
    keys: z.record(z.string(), KeyUsageSchema),
  })
  .strict();

export type KeyUsage = z.infer<typeof KeyUsageSchema>;
export type UsageReport = z.infer<typeof UsageReportSchema>;
