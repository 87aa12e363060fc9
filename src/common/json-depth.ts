/** Deepest JSON nesting the API accepts; deeper bodies are refused before they are parsed. */
export const MAX_JSON_DEPTH = 64;

/**
 * The nesting depth of a JSON text (brackets outside strings), stopping early past `max`.
 * Used as the JSON body parser's `verify` hook: a deeply nested body would otherwise exhaust
 * the stack in validation and surface as a 500.
 */
export function jsonDepthExceeds(buf: Buffer, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** `verify` hook for the JSON body parser: 400 for bodies nested deeper than MAX_JSON_DEPTH. */
export function refuseDeepJson(_req: unknown, _res: unknown, buf: Buffer): void {
  if (jsonDepthExceeds(buf)) {
    throw Object.assign(new Error(`JSON body nested deeper than ${MAX_JSON_DEPTH} levels`), { status: 400, expose: true, type: 'entity.too.deep' });
  }
}
