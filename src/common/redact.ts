/**
 * Removes every occurrence of the given secrets (and their URL-encoded forms) from a message.
 * Used on anything that leaves a job: error text, logs, stored records.
 */
export function redact(message: string, secrets: Array<string | undefined>): string {
  let out = message;
  for (const s of secrets) {
    if (!s) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join('***');
  }
  // Passwords inside any URL-looking string.
  return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]*:)[^@\s]*@/gi, '$1***@');
}

/** Query parameters whose values are credentials, by name (`token`, `access_token`, `api_key`, ...). */
const SECRET_PARAM = /token|jwt|auth|key|secret|pass|pwd|sig|session|credential|code/i;
/** Anything shaped like a JWT: three base64url parts, the first a JSON header. */
const JWT_LIKE = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

const decodeName = (s: string) => {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
};

/**
 * A URL (path and query) fit for a log line: values of credential-named query parameters
 * become `***`, and so does anything shaped like a JWT, wherever it is.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url.replace(JWT_LIKE, '***');
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq >= 0 && SECRET_PARAM.test(decodeName(pair.slice(0, eq))) ? `${pair.slice(0, eq)}=***` : pair;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`.replace(JWT_LIKE, '***');
}

/** A copy of parsed query, params or headers with credential-named entries and JWT-shaped strings as `***`. */
function redactFields(value: unknown, byName: boolean, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(JWT_LIKE, '***');
  if (!value || typeof value !== 'object' || depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => redactFields(v, byName, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, byName && SECRET_PARAM.test(k) ? '***' : redactFields(v, byName, depth + 1)]));
}

/**
 * pino-http request serializer (it gets pino's own serialization): the logged URL, query and
 * params hold no token, and no header holds a JWT. Copies; the request itself is untouched.
 * Known credential headers (Authorization, Cookie, ...) are also removed by the logger's `redact`.
 */
export function redactRequestForLog<T extends { url?: string; query?: unknown; params?: unknown; headers?: unknown }>(req: T): T {
  if (typeof req.url === 'string') req.url = redactUrl(req.url);
  if (req.query !== undefined) req.query = redactFields(req.query, true);
  if (req.params !== undefined) req.params = redactFields(req.params, false);
  if (req.headers !== undefined) req.headers = redactFields(req.headers, false);
  return req;
}
