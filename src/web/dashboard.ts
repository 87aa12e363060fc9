import { Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/**
 * Only this service: no inline script, no other origin for anything (the page works offline),
 * never framed.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The built dashboard (`npm run build` writes it to `dist/web`), found from this file in `src/` or `dist/src/`. */
export function dashboardRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) {
      const root = join(dir, 'dist', 'web');
      return existsSync(join(root, 'index.html')) ? root : undefined;
    }
    dir = dirname(dir);
  }
  return undefined;
}

interface File {
  body: Buffer;
  type: string;
  immutable: boolean;
}

/** Every file of the build, read once: nothing is looked up on disk by a request's path. */
function readBuild(root: string): Map<string, File> {
  const files = new Map<string, File>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const rel = relative(root, full).split(sep).join('/');
        files.set(rel, { body: readFileSync(full), type: TYPES[extname(name)] ?? 'application/octet-stream', immutable: rel.startsWith('assets/') });
      }
    }
  };
  walk(root);
  return files;
}

/**
 * Express middleware serving the dashboard at `path` (`/` or `/ui`): `path/` is the page, its
 * assets under `path/assets/`. Everything else passes on (the API, the probes, and a JSON 404).
 * The page uses hash routes (`#/backups`), so no server-side fallback is needed.
 */
export function dashboardMiddleware(path: string, root = dashboardRoot()): (req: Request, res: Response, next: NextFunction) => void {
  const base = path === '/' ? '' : path;
  const files = root ? readBuild(root) : undefined;
  if (!files) new Logger('Dashboard').warn(`the dashboard is not built (no dist/web/index.html); ${path} answers 503 until \`npm run build\` has run`);
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const url = req.path;
    if (base && url === base) return res.redirect(301, `${base}/`);
    if (!url.startsWith(`${base}/`)) return next();
    const rel = url.slice(base.length + 1) || 'index.html';
    if (rel.startsWith('api/')) return next();
    if (!files) {
      if (rel !== 'index.html') return next();
      res.status(503).type('text/plain').send('The dashboard is not built: run `npm run build` (npm start does), then restart the service.\n');
      return;
    }
    const file = files.get(rel);
    if (!file) return next();
    res.setHeader('Content-Type', file.type);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (rel === 'index.html') {
      res.setHeader('Content-Security-Policy', CSP);
      res.setHeader('X-Frame-Options', 'DENY');
      res.setHeader('Referrer-Policy', 'no-referrer');
    }
    res.status(200).end(req.method === 'HEAD' ? undefined : file.body);
  };
}
