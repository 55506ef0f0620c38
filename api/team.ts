import { z } from 'zod';
import { conditionList } from './conditions.ts';
import { handoffMode, ipAllowlistFrom } from './apikey.ts';
import { duration, emailAddress, endpointPath, modelName, stringSet } from './fields.ts';

export const TeamSpecSchema = z
  .object({
    allowedModels: stringSet(modelName(), 256).min(1).describe('Models the team may call; "*" means every model.'),
    allowedEndpoints: stringSet(endpointPath(), 64)
      .optional()
      .describe('Endpoint paths the team may call (with or without /v1); empty means all.'),
    maxExpiration: duration()
      .optional()
      .describe('Ceiling for keys of this team: they may not be Never or live longer than this.'),
    ipAllowlistFrom: ipAllowlistFrom().describe(
      "Source CIDRs every key of this team is confined to, read from ConfigMaps in this namespace: a key's own " +
        'allowlist is narrowed to addresses in these lists (docs/design.md §2).',
    ),
    contacts: stringSet(emailAddress(), 20)
      .optional()
      .describe('Email addresses that get expiry reminders for every key of this team.'),
    defaults: z
      .object({
        rotation: z
          .object({ handoff: z.object({ mode: handoffMode().optional() }).strict().optional() })
          .strict()
          .optional(),
      })
      .strict()
      .optional()
      .describe(
        "Defaults for the ApiKeys of this team, at the same paths as in ApiKey.spec (a key's own setting wins).",
      ),
  })
  .strict();

export const TeamStatusSchema = z
  .object({
    observedGeneration: z.number().int().min(0).optional(),
    conditions: conditionList().optional(),
    keys: z.number().int().min(0).optional().describe('ApiKeys that belong to this team.'),
  })
  .strict();

export type TeamSpec = z.infer<typeof TeamSpecSchema>;
export type TeamSpecInput = z.input<typeof TeamSpecSchema>;
export type TeamStatus = z.infer<typeof TeamStatusSchema>;
