import type { Request, Response } from 'express';

/** The httpOnly cookie holding the session JWT. */
export const SESSION_COOKIE = 'bm_session';
/** The readable cookie holding the session's CSRF token, which the page echoes in `X-CSRF-Token`. */
export const CSRF_COOKIE = 'bm_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** One cookie of the request (no cookie-parser needed for two names). */
export function readCookie(req: Pick<Request, 'headers'>, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * Sets the session cookies: the JWT httpOnly, the CSRF token readable by the page; both
 * SameSite=Strict (a cross-site request carries neither) and Secure when the request came over
 * HTTPS (directly, or through a trusted proxy).
 */
export function setSessionCookies(req: Request, res: Response, jwt: string, csrf: string, maxAgeSeconds: number): void {
  const common = `Path=/; SameSite=Strict; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}${req.secure ? '; Secure' : ''}`;
  res.append('Set-Cookie', `${SESSION_COOKIE}=${jwt}; HttpOnly; ${common}`);
  res.append('Set-Cookie', `${CSRF_COOKIE}=${csrf}; ${common}`);
}

export function clearSessionCookies(req: Request, res: Response): void {
  setSessionCookies(req, res, '', '', 0);
}
