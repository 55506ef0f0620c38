// Finds the cost of a response while it streams through, without buffering it: the value of the
// LAST `"total_tokens": <int>` in the bytes. That covers a JSON body (`usage.total_tokens`) and an SSE
// stream (the final chunk carrying usage; providers that repeat cumulative usage on every chunk end
// on the total). Inside JSON strings a quote is always escaped, so model output that merely mentions
// "total_tokens" cannot forge a match; callers only scan JSON and SSE bodies for the same reason.
// A byte state machine that survives any chunk split; indexOf skips quickly to candidates.

const NEEDLE = Buffer.from('"total_tokens"');
const MAX_DIGITS = 15; // < 2^53

const SEARCH = 0;
const NEEDLE_PARTIAL = 1;
const COLON = 2;
const VALUE = 3;
const DIGITS = 4;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

export class TotalTokensScanner {
  #state = SEARCH;
  #matched = 0;
  #acc = 0;
  #digits = 0;
  #value: number | undefined;

  /** The last complete total_tokens seen so far (call end() before trusting it). */
  get value(): number | undefined {
    return this.#value;
  }

  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.#state) {
        case SEARCH: {
          const at = chunk.indexOf(NEEDLE, i);
          if (at >= 0) {
            i = at + NEEDLE.length;
            this.#state = COLON;
            break;
          }
          // the needle may start in this chunk's tail and finish in the next one
          this.#matched = 0;
          for (let j = Math.max(i, n - NEEDLE.length + 1); j < n; j++) {
            if (chunk.compare(NEEDLE, 0, n - j, j, n) === 0) {
              this.#matched = n - j;
              this.#state = NEEDLE_PARTIAL;
              break;
            }
          }
          i = n;
          break;
        }
        case NEEDLE_PARTIAL:
          if (chunk[i] === NEEDLE[this.#matched]) {
            i++;
            if (++this.#matched === NEEDLE.length) this.#state = COLON;
          } else {
            this.#state = SEARCH; // re-examine this byte: it may start a new match
          }
          break;
        case COLON: {
          const b = chunk[i]!;
          if (isSpace(b)) i++;
          else if (b === 0x3a /* : */) {
            i++;
            this.#state = VALUE;
          } else this.#state = SEARCH;
          break;
        }
        case VALUE: {
          const b = chunk[i]!;
          if (isSpace(b)) i++;
          else if (b >= 0x30 && b <= 0x39) {
            this.#acc = 0;
            this.#digits = 0;
            this.#state = DIGITS;
          } else this.#state = SEARCH; // null, a string, a negative number: not a usable count
          break;
        }
        case DIGITS: {
          const b = chunk[i]!;
          if (b >= 0x30 && b <= 0x39) {
            if (++this.#digits > MAX_DIGITS) this.#state = SEARCH;
            else this.#acc = this.#acc * 10 + (b - 0x30);
            i++;
          } else {
            this.#record();
            this.#state = SEARCH;
          }
          break;
        }
      }
    }
  }

  /** The stream ended: a number running up to the last byte is complete. */
  end(): number | undefined {
    if (this.#state === DIGITS) {
      this.#record();
      this.#state = SEARCH;
    }
    return this.#value;
  }

  // A total of 0 is no report: nothing a router serves costs 0 tokens, and LiteLLM sends
  // `"total_tokens": 0` on every chunk of a streamed legacy completion (docs/design.md §4, "Costs").
  #record(): void {
    if (this.#acc > 0) this.#value = this.#acc;
  }
}
