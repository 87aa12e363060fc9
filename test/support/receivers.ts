import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** One request a receiver got. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The body exactly as sent. */
  raw: string;
  at: number;
}

/**
 * A webhook receiver on loopback: records every request; `answers` gives, per path, the statuses
 * to answer in turn (the last one repeats; default 200).
 */
export class HttpReceiver {
  readonly requests: Received[] = [];
  readonly answers = new Map<string, number[]>();
  private server?: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.requests.push({ method: req.method ?? '', path, headers: req.headers, raw: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
        const queue = this.answers.get(path);
        const status = queue && queue.length > 1 ? queue.shift()! : (queue?.[0] ?? 200);
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status < 300 ? 'ok, got it' : `receiver says ${status}`);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  to(path: string): Received[] {
    return this.requests.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}

/** A self-signed certificate for 127.0.0.1 (openssl, argv only). */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bm-cert-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * An SMTP server on loopback that offers STARTTLS (self-signed certificate), accepts only
 * `user`/`password` (AUTH over TLS only), and parses every message it accepts.
 */
export class SmtpReceiver {
  readonly mails: ParsedMail[] = [];
  readonly logins: string[] = [];
  readonly tls = selfSignedCert();
  private server?: SMTPServer;
  port = 0;

  constructor(
    private readonly user: string,
    private readonly password: string,
  ) {}

  async start(): Promise<this> {
    this.server = new SMTPServer({
      secure: false,
      key: this.tls.key,
      cert: this.tls.cert,
      logger: false,
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth: (auth, _session, cb) => {
        this.logins.push(auth.username ?? '');
        if (auth.username === this.user && auth.password === this.password) cb(null, { user: auth.username });
        else cb(new Error('Invalid username or password'));
      },
      onData: (stream, _session, cb) => {
        simpleParser(stream).then(
          (mail) => {
            this.mails.push(mail);
            cb();
          },
          (err: Error) => cb(err),
        );
      },
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}
