import { randomBytes } from 'node:crypto';
import { EXTENSION } from '../codecs/compression.js';
import type { Compression } from '../config/options.js';

/** `{target}/{target}_{type}_{UTC timestamp}_{short id}.{ext}` (`.age` last when encrypted): generated, never from a request. */
export function artifactKey(target: string, type: string, format: string, compression: Compression, at = new Date(), encrypted = false): string {
  const ts = at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  const short = randomBytes(4).toString('hex');
  const ext = (format === 'custom' ? '.dump' : '.sql') + EXTENSION[compression] + (encrypted ? '.age' : '');
  return `${target}/${target}_${type}_${ts}_${short}${ext}`;
}

export const manifestKey = (fileKey: string) => `${fileKey}.manifest.json`;
