// The two request encodings the VyOS API accepts (vyos-api.md §1): form fields `data` (a JSON string)
// plus `key`, or a raw JSON body with the key inside. Both end up as one JSON object.

import type { IncomingMessage } from 'node:http';
import type { SimVersion } from './schema';
import { DATA_REQUIRED, KEY_REQUIRED } from './router-messages';

export type DecodedBody =
  | { ok: true; body: unknown; form: boolean }
  | { ok: false; status: number; error: string };

const MAX_BODY = 8 * 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Reads form fields with the platform's own parser (undici's Request.formData handles both form types). */
async function formFields(contentType: string, raw: Buffer): Promise<Map<string, string>> {
  const form = await new Request('http://simulator.invalid/', {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: raw,
  }).formData();
  const fields = new Map<string, string>();
  for (const [name, value] of form) {
    if (!fields.has(name)) fields.set(name, typeof value === 'string' ? value : await value.text());
  }
  return fields;
}

/** Python's `json.loads` wording for the commonest failure, reported after "Failed to parse JSON: ". */
function jsonErrorText(text: string): string {
  const at = text.length - text.trimStart().length;
  return `Expecting value: line 1 column ${at + 1} (char ${at})`;
}

export async function decodeBody(contentType: string | undefined, raw: Buffer, version: SimVersion): Promise<DecodedBody> {
  const type = (contentType ?? '').toLowerCase();
  if (type.startsWith('multipart/form-data') || type.startsWith('application/x-www-form-urlencoded')) {
    let fields: Map<string, string>;
    try {
      fields = await formFields(contentType ?? '', raw);
    } catch {
      return { ok: false, status: 400, error: 'There was an error parsing the body' };
    }
    const dataText = fields.get('data');
    if (dataText === undefined || dataText === '') return { ok: false, status: 422, error: DATA_REQUIRED };
    let data: unknown;
    try {
      data = JSON.parse(dataText);
    } catch {
      return { ok: false, status: 400, error: `Failed to parse JSON: ${jsonErrorText(dataText)}` };
    }
    // A bare list is wrapped as a batch; it therefore cannot carry confirm_time (§4).
    if (Array.isArray(data)) data = { commands: data };
    const inData = typeof data === 'object' && data !== null && 'key' in data;
    const formKey = fields.get('key');
    if (!inData && formKey === undefined) {
      // 1.3 answers 422 for a missing key in form mode; 1.4+ answer 401 (smoketest).
      return { ok: false, status: version === '1.3' ? 422 : 401, error: KEY_REQUIRED };
    }
    if (!inData && typeof data === 'object' && data !== null) data = { ...(data as object), key: formKey };
    return { ok: true, body: data, form: true };
  }
  // Anything else is treated as JSON: the server forces `application/json` when there are no form fields.
  const text = raw.toString('utf8');
  try {
    return { ok: true, body: text.trim() === '' ? {} : JSON.parse(text), form: false };
  } catch {
    return { ok: false, status: 400, error: 'JSON decode error' };
  }
}
