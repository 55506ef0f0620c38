import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TotalTokensScanner } from './usage-scanner.ts';

function scan(chunks: (string | Buffer)[]): number | undefined {
  const s = new TotalTokensScanner();
  for (const c of chunks) s.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return s.end();
}

const sse = (objs: unknown[]) => `${objs.map((o) => `data: ${JSON.stringify(o)}\n\n`).join('')}data: [DONE]\n\n`;

describe('TotalTokensScanner', () => {
  it.each<[string, string, number | undefined]>([
    ['JSON body', JSON.stringify({ id: 'x', usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } }), 7],
    ['pretty-printed', '{\n  "usage": {\n    "total_tokens" :\t 1234\n  }\n}', 1234],
    ['no usage', '{"data":[{"b64_json":"abc"}]}', undefined],
    ['null usage', '{"usage":{"total_tokens":null}}', undefined],
    ['negative is not a count', '{"usage":{"total_tokens":-5}}', undefined],
    ['number at the very end', '"total_tokens":42', 42],
    [
      'model text mentioning the field cannot forge it',
      JSON.stringify({ content: '"total_tokens": 0', usage: { total_tokens: 99 } }),
      99,
    ],
    ['escaped text alone is not usage', JSON.stringify({ content: 'say "total_tokens": 1' }), undefined],
    [
      'SSE: the final usage chunk wins',
      sse([{ choices: [{ delta: { content: 'hi' } }] }, { choices: [], usage: { total_tokens: 31 } }]),
      31,
    ],
    [
      'SSE: cumulative usage on every chunk ends on the total',
      sse([{ usage: { total_tokens: 5 } }, { usage: { total_tokens: 9 } }]),
      9,
    ],
    [
      'Responses API events',
      sse([
        { type: 'response.created', response: { usage: null } },
        { type: 'response.completed', response: { usage: { input_tokens: 2, output_tokens: 3, total_tokens: 5 } } },
      ]),
      5,
    ],
    ['zero is no report', '{"usage":{"total_tokens":0}}', undefined],
    [
      'SSE: zeros on every chunk (LiteLLM legacy completions) are no report',
      sse([{ usage: { total_tokens: 0 } }, { usage: { total_tokens: 0 } }]),
      undefined,
    ],
    [
      'SSE: a later zero does not erase a total',
      sse([{ usage: { total_tokens: 9 } }, { usage: { total_tokens: 0 } }]),
      9,
    ],
    ['absurdly long number is ignored', '{"total_tokens":12345678901234567890}', undefined],
  ])('%s', (_name, text, expected) => {
    expect(scan([text])).toBe(expected);
  });

  it('finds the same value however the stream is split', () => {
    const text = sse([
      { choices: [{ delta: { content: 'the "total_tokens": 1 trap' } }] },
      { choices: [], usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 } },
    ]);
    const bytes = Buffer.from(text);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const sorted = [...cuts].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const c of sorted) {
          chunks.push(bytes.subarray(prev, c));
          prev = c;
        }
        chunks.push(bytes.subarray(prev));
        expect(scan(chunks)).toBe(30);
      }),
      { numRuns: 500 },
    );
  });

  it('byte-at-a-time equals whole', () => {
    const text = '{"a":"total_tokens","usage":{"total_tokens" : 77}}';
    expect(scan([...Buffer.from(text)].map((b) => Buffer.from([b])))).toBe(77);
  });
});
