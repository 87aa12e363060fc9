import { usageError } from './exit.js';

/**
 * A secret from standard input: typed without echo on a terminal (twice with `confirm`), else
 * the first line of what is piped in. Never from the command line, where `ps` and shell history
 * would keep it.
 */
export async function readSecret(prompt: string, opts: { confirm?: boolean } = {}): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text) throw usageError('no password on standard input: pipe it in, type it on a terminal, or pass --password-file <path>');
    return text.split(/\r?\n/)[0];
  }
  const first = await typeSecret(`${prompt}: `);
  if (opts.confirm && (await typeSecret(`${prompt} (again): `)) !== first) throw usageError('the two passwords differ; nothing was changed');
  return first;
}

/** One line typed on the terminal with echo off. */
function typeSecret(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(usageError('interrupted; nothing was changed'));
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else if (ch >= ' ') typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}
