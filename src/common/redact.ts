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
