import { StringDecoder } from 'node:string_decoder';

// Streamed completions report their usage only when asked to (docs/design.md §4, "Costs"): the OpenAI
// API sends a final usage chunk when the request sets `stream_options.include_usage`. The gateway asks
// on every streamed chat/completions request, so a stream is charged what the router reports; a
// client that did not ask still sees exactly the stream it asked for (the usage-only chunk and the
// `"usage": null` every other chunk then carries are taken out again by UsageChunkStripper).
// The injection can be turned off (`--no-stream-usage`) for a router that rejects stream_options;
// streams are then charged their reservation (docs/design.md §4, "Costs").

export interface UsageRequest {
  /** The body to send upstream (unchanged unless `injected`). */
  body: Buffer;
  /** We added include_usage: the client's stream must be stripped of what it did not ask for. */
  injected: boolean;
}

/** Asks the router for stream usage when the client streams without asking for it itself. */
export function requestStreamUsage(endpoint: string, json: Record<string, unknown>, body: Buffer): UsageRequest {
  // /chat/completions, /completions, and the same under /openai/deployments/{model}/ or /engines/{model}/
  if (json.stream !== true || !endpoint.endsWith('/completions')) return { body, injected: false };
  const given = json.stream_options;
  const options =
    typeof given === 'object' && given !== null && !Array.isArray(given)
      ? (given as Record<string, unknown>)
      : undefined;
  if (options?.include_usage === true) return { body, injected: false };
  const streamOptions = { ...options, include_usage: true };
  return { body: Buffer.from(JSON.stringify({ ...json, stream_options: streamOptions })), injected: true };
}

const EVENT_END = /\r?\n\r?\n/;

/**
 * Removes, from an SSE stream, the usage-only final chunk (`"choices": []` with a usage object) and
 * the `"usage": null` field of the other chunks. Events are cut at blank lines; anything that is not
 * a JSON data event passes byte for byte.
 */
export class UsageChunkStripper {
  #pending = '';
  // a multi-byte character may be split across chunks
  #decoder = new StringDecoder('utf8');

  push(chunk: Buffer): Buffer {
    this.#pending += this.#decoder.write(chunk);
    let out = '';
    for (;;) {
      const m = EVENT_END.exec(this.#pending);
      if (m === null) break;
      const end = m.index + m[0].length;
      out += strip(this.#pending.slice(0, m.index), this.#pending.slice(m.index, end));
      this.#pending = this.#pending.slice(end);
    }
    return Buffer.from(out);
  }

  end(): Buffer {
    const rest = this.#pending + this.#decoder.end();
    this.#pending = '';
    return Buffer.from(rest);
  }
}

function strip(event: string, terminator: string): string {
  const at = event.indexOf('data:');
  if (at < 0 || event.indexOf('data:', at + 5) >= 0) return event + terminator;
  const payload = event.slice(at + 5).trimStart();
  if (!payload.startsWith('{')) return event + terminator;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(payload) as Record<string, unknown>;
  } catch {
    return event + terminator;
  }
  if (!('usage' in json)) return event + terminator;
  // OpenAI's usage chunk has `choices: []`; LiteLLM's carries one choice with an empty delta
  const choices = json.choices ?? [];
  if (json.usage !== null && Array.isArray(choices) && choices.every(emptyChoice)) return '';
  // a chunk with content and usage keeps its content: only the usage the client did not ask for goes
  delete json.usage;
  return `${event.slice(0, at)}data: ${JSON.stringify(json)}${terminator}`;
}

/** A choice that says nothing: no delta content (or an empty delta), no finish reason, no logprobs. */
function emptyChoice(choice: unknown): boolean {
  if (typeof choice !== 'object' || choice === null) return false;
  for (const [field, value] of Object.entries(choice)) {
    if (field === 'index' || value === null) continue;
    if (field === 'delta' && typeof value === 'object' && Object.keys(value as object).length === 0) continue;
    return false;
  }
  return true;
}
