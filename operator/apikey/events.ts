import { hash } from 'node:crypto';
import type { PlannedEvent } from './types.ts';

// Deterministic Event names: a reconcile that is retried (409 on status, crash) plans the same Event
// under the same name, which the API server refuses as AlreadyExists: each Event is sent once.

const MAX_PREFIX = 200;

export function eventName(apiKeyName: string, ...parts: string[]): string {
  const suffix = parts.map((p) => p.toLowerCase().replace(/[^a-z0-9-]/g, '-')).join('.');
  return `${apiKeyName.slice(0, MAX_PREFIX)}.${suffix}`.slice(0, 253).replace(/[.-]+$/, '');
}

export function shortHash(...parts: string[]): string {
  return hash('sha256', parts.join('\u0000'), 'hex').slice(0, 10);
}

export function keyEvent(
  apiKeyName: string,
  keyId: string,
  type: PlannedEvent['type'],
  reason: string,
  message: string,
): PlannedEvent {
  return { type, reason, message, name: eventName(apiKeyName, keyId, reason) };
}
