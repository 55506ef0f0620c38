// Types of format.js for the unit tests (the page itself is plain JavaScript, no build step).
import type { KeyView } from '../view.ts';

export interface Filter {
  search?: string;
  team?: string;
  environment?: string;
  state?: string;
  scope?: '' | 'restricted' | 'all';
  model?: string;
  candidates?: boolean;
}
export function relativeTime(iso: string | undefined, now: number): string | undefined;
export function modelScope(key: KeyView): { restricted: boolean; text: string };
export function listOrAll(values: string[] | undefined, all: string): string;
export function sourceIps(spec: {
  ipAllowlist?: string[];
  ipAllowlistFrom?: { configMapKeyRef: { name: string; key: string } }[];
}): string[];
export function expiresText(key: KeyView, now: number): string | undefined;
export function matches(key: KeyView, filter: Filter): boolean;
export function sortKeys(keys: KeyView[], by: 'name' | 'expiry' | 'usage' | 'lastUsed'): KeyView[];
export function expirationChoice(expiration: string | undefined): { preset: string; custom: string };
export function customExpiration(local: string): string;
