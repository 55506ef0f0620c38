import OpenAI from 'openai';

// What a client sees at the gateway, through the official openai SDK (the Trust standard: observe where it
// happens). One helper for the end-to-end tests that ask "admitted, or refused with which code?".

export type Answer = { status: number; code?: string | null };

/** One chat completion with `key` against the gateway at `gatewayUrl`: 200, or the status and OpenAI error code. */
export async function chatAnswer(gatewayUrl: string, key: string): Promise<Answer> {
  try {
    await new OpenAI({ apiKey: key, baseURL: `${gatewayUrl}/v1`, maxRetries: 0 }).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    return { status: 200 };
  } catch (e) {
    if (!(e instanceof OpenAI.APIError)) throw e;
    return { status: e.status ?? 0, code: e.code };
  }
}
