import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { DURATION_CEL_RULE, DURATION_HINT, parseDurationMs } from './duration.ts';
import { DATETIME_REGEX, EXPIRATION_HINT, parseExpiration } from './expiration.ts';

// Field building blocks. Each check is written twice on purpose — once as a zod refinement (our code)
// and once as CEL (the API server) — from the same constants, and a table test runs both on one input set.

type Validation = { rule: string; message: string };

/** A JS regex as a CEL string literal for `matches()` (RE2 accepts the escapes JS writes in `.source`). */
export function celRegex(re: RegExp): string {
  return `'${re.source.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** A string checked by zod with `check` and by the API server with the CEL `rule`, sharing one message. */
export function celString(maxLength: number, check: (s: string) => boolean, v: Validation) {
  return z
    .string()
    .max(maxLength)
    .refine(check, { message: v.message })
    .meta({ 'x-kubernetes-validations': [v] });
}

export const duration = () =>
  celString(12, (s) => parseDurationMs(s) !== undefined, {
    rule: DURATION_CEL_RULE,
    message: `must be ${DURATION_HINT}`,
  });

export const expiration = () =>
  celString(40, (s) => parseExpiration(s) !== undefined, {
    rule: `self == 'Never' || (${DURATION_CEL_RULE}) || ` + `self.matches(${celRegex(DATETIME_REGEX)})`,
    message: `must be ${EXPIRATION_HINT}`,
  });

/** True for an IPv4/IPv6 CIDR block or bare address (a bare address means /32 or /128). */
export function isCidrOrAddress(text: string): boolean {
  if (text.includes('%')) return false; // zones are host-local and meaningless in an allowlist
  try {
    if (text.includes('/')) ipaddr.parseCIDR(text);
    else if (!ipaddr.isValid(text)) return false;
    if (!text.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(text.split('/')[0] ?? '')) return false;
    return true;
  } catch {
    return false;
  }
}

export const cidr = () =>
  celString(64, isCidrOrAddress, {
    rule: 'isCIDR(self) || isIP(self)',
    message: 'must be a CIDR block such as 10.0.0.0/8 or 2001:db8::/32, or a single IPv4/IPv6 address',
  });

const MODEL_REGEX = /^(\*|[A-Za-z0-9][A-Za-z0-9._:/@+-]*)$/;
export const modelName = () =>
  celString(253, (s) => MODEL_REGEX.test(s), {
    rule: `self.matches(${celRegex(MODEL_REGEX)})`,
    message: 'must be "*" or a model name of letters, digits and . _ : / @ + - (e.g. gpt-4o-mini)',
  });

const ENDPOINT_REGEX = /^\/[A-Za-z0-9._~/-]*$/;
export const endpointPath = () =>
  celString(128, (s) => ENDPOINT_REGEX.test(s), {
    rule: `self.matches(${celRegex(ENDPOINT_REGEX)})`,
    message: 'must be a URL path starting with "/" such as /chat/completions or /v1/embeddings',
  });

const DNS_LABEL_REGEX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN_REGEX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const objectName = (what: string) =>
  celString(253, (s) => DNS_SUBDOMAIN_REGEX.test(s), {
    rule: `self.matches(${celRegex(DNS_SUBDOMAIN_REGEX)})`,
    message: `must be the name of a ${what}: lowercase letters, digits, '-' and '.'`,
  });
export const dnsLabel = (what: string) =>
  celString(63, (s) => DNS_LABEL_REGEX.test(s), {
    rule: `self.matches(${celRegex(DNS_LABEL_REGEX)})`,
    message: `must be the name of a ${what}: lowercase letters, digits and '-', at most 63 characters`,
  });

const SECRET_DATA_KEY_REGEX = /^[-._a-zA-Z0-9]+$/;
export const secretDataKey = () =>
  celString(253, (s) => SECRET_DATA_KEY_REGEX.test(s), {
    rule: `self.matches(${celRegex(SECRET_DATA_KEY_REGEX)})`,
    message: "must be a Secret data key: letters, digits, '-', '_' and '.'",
  });

// A plain mailbox (local@domain), no display name: what an SMTP RCPT TO takes. Deliberately simple —
// the mail server is the judge of deliverability; this only keeps typos and header injection out.
const EMAIL_REGEX =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
export const emailAddress = () =>
  celString(254, (s) => EMAIL_REGEX.test(s), {
    rule: `self.matches(${celRegex(EMAIL_REGEX)})`,
    message: 'must be an email address like team@example.com (no display name)',
  });

/** A list the API server treats as a set (duplicates rejected) with a bound so CEL cost checks pass. */
export function stringSet<T extends z.ZodType<string>>(item: T, maxItems: number) {
  return z
    .array(item)
    .max(maxItems)
    .refine((xs) => new Set(xs).size === xs.length, { message: 'must not contain duplicates' })
    .meta({ 'x-kubernetes-list-type': 'set' });
}

export const timestamp = () => z.iso.datetime({ offset: true });
