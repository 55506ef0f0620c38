import { describe, expect, it } from 'vitest';
import { reservationEstimate } from './estimate.ts';

describe('reservationEstimate', () => {
  it.each([
    ['max_tokens', { max_tokens: 50 }, 50],
    ['max_completion_tokens wins over max_tokens', { max_completion_tokens: 70, max_tokens: 50 }, 70],
    ['max_output_tokens (responses)', { max_output_tokens: 90 }, 90],
    ['no bound: the default', { model: 'm' }, 256],
    ['no body: the default', undefined, 256],
    ['nonsense bounds are ignored', { max_tokens: -5, max_completion_tokens: '100', max_output_tokens: 1.5 }, 256],
  ])('%s', (_name, json, expected) => {
    expect(reservationEstimate(json as Record<string, unknown> | undefined, 256)).toBe(expected);
  });
});
