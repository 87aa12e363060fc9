import { createHash } from 'node:crypto';
import type { EngineKind } from '../config/options.js';

/** Where a database lives: what two target names must share to reach the same one. */
export interface DatabaseLocation {
  engine: EngineKind;
  host: string;
  port: number;
  database: string;
}

/** Longest key kept readable; longer ones (very long host names) are hashed to fit the catalog column. */
const MAX_READABLE = 128;

/**
 * One string per physical database: `engine:host:port:database`, whichever target name reaches
 * it. The host is lower-cased and every loopback spelling (`localhost`, `127.x.x.x`, `::1`)
 * becomes `localhost`; the database name is lower-cased too. Both may make two distinct databases
 * share a key (MySQL on a case-insensitive file system, a second server on another loopback
 * address): they then only wait for each other, never write at once.
 * Used for the Redis lock every writer takes and for the catalog's one-restore-per-database rule.
 */
export function databaseKey(loc: DatabaseLocation): string {
  const key = [loc.engine, encodeURIComponent(normalHost(loc.host)), String(loc.port), encodeURIComponent(loc.database.toLowerCase())].join(':');
  return key.length <= MAX_READABLE ? key : `${loc.engine}:sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** A host name as the key compares it: lower-case, every loopback spelling the same. */
export function normalHost(host: string): string {
  let h = host.trim().toLowerCase().replace(/\.$/, '');
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === '' || h === 'localhost' || h.endsWith('.localhost')) return 'localhost';
  if (/^127(\.\d{1,3}){3}$/.test(h) || h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h) || h === '::ffff:127.0.0.1') return 'localhost';
  return h;
}
