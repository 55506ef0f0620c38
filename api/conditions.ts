import { z } from 'zod';
import { timestamp } from './fields.ts';

// metav1.Condition, as every Kubernetes controller writes it.
export const ConditionSchema = z
  .object({
    type: z.string().max(64),
    status: z.enum(['True', 'False', 'Unknown']),
    reason: z.string().max(128),
    message: z.string().max(2048),
    lastTransitionTime: timestamp(),
    observedGeneration: z.number().int().min(0).optional(),
  })
  .strict();
export type Condition = z.infer<typeof ConditionSchema>;

export const conditionList = () =>
  z
    .array(ConditionSchema)
    .max(16)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] });
