// An S3 protocol server for tests and the benchmark: s3rver (objects on disk, SigV4 checked),
// in its own process so a test can SIGKILL it mid-upload. Started by test/support/s3.ts.
//
// s3rver answers ListMultipartUploads (GET /bucket?uploads) and AbortMultipartUpload
// (DELETE /bucket/key?uploadId=) with NotImplemented / MethodNotAllowed. Both are added here, on
// s3rver's own upload directory and behind its own signature check, so that aborts and the
// reconciler's listing run against a real HTTP server as they would against S3.
//
// Environment: S3_DIR (data directory), S3_PORT (0 = any), S3_BUCKETS (comma-separated, created
// at start), S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY (an account besides s3rver's default).
// Prints `listening <port>` on stdout once it accepts connections.
import { createRequire } from 'node:module';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver');
const AWSAccount = require('s3rver/lib/models/account');
const authentication = require('s3rver/lib/middleware/authentication');

const dir = process.env.S3_DIR;
if (!dir) throw new Error('S3_DIR is required');
if (process.env.S3_ACCESS_KEY_ID && process.env.S3_SECRET_ACCESS_KEY) {
  new AWSAccount(222222222222, 'tests').createKeyPair(process.env.S3_ACCESS_KEY_ID, process.env.S3_SECRET_ACCESS_KEY);
}
const buckets = (process.env.S3_BUCKETS ?? '').split(',').filter(Boolean);

const server = new S3rver({
  address: '127.0.0.1',
  port: Number(process.env.S3_PORT ?? 0),
  directory: dir,
  silent: true,
  configureBuckets: buckets.map((name) => ({ name })),
});

const uploadsDir = (bucket) => join(dir, bucket, '._S3rver_uploads');
const xmlEscape = (s) => String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);
const auth = authentication();

/** ListMultipartUploads and AbortMultipartUpload (path-style requests). */
async function multipartExtras(ctx, next) {
  const m = /^\/([^/]+)(?:\/(.+?))?\/?$/.exec(ctx.path);
  const listing = ctx.method === 'GET' && m && !m[2] && 'uploads' in ctx.query;
  const aborting = ctx.method === 'DELETE' && m && m[2] && typeof ctx.query.uploadId === 'string';
  if (!listing && !aborting) return next();
  ctx.params = { bucket: m[1], key: m[2] ? decodeURIComponent(m[2]) : undefined };
  await auth(ctx, async () => {
    const bucketPath = join(dir, m[1]);
    if (!(await stat(bucketPath).catch(() => undefined))) {
      ctx.status = 404;
      ctx.type = 'application/xml';
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>`;
      return;
    }
    if (aborting) {
      const upload = join(uploadsDir(m[1]), ctx.query.uploadId);
      if (!/^[A-Za-z0-9_-]+$/.test(ctx.query.uploadId) || !(await stat(upload).catch(() => undefined))) {
        ctx.status = 404;
        ctx.type = 'application/xml';
        ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist</Message></Error>`;
        return;
      }
      await rm(upload, { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
    const rows = [];
    for (const id of await readdir(uploadsDir(m[1])).catch(() => [])) {
      const key = await readFile(join(uploadsDir(m[1]), id, 'key'), 'utf8').catch(() => undefined);
      if (key === undefined || !key.startsWith(prefix)) continue;
      const st = await stat(join(uploadsDir(m[1]), id));
      rows.push(`<Upload><Key>${xmlEscape(key)}</Key><UploadId>${xmlEscape(id)}</UploadId><Initiated>${st.birthtime.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`);
    }
    ctx.type = 'application/xml';
    ctx.body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Bucket>${xmlEscape(m[1])}</Bucket><Prefix>${xmlEscape(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${rows.join('')}</ListMultipartUploadsResult>`;
  });
}

// Before s3rver's router (the last middleware), after its logger and XML encoder.
server.middleware.splice(server.middleware.length - 1, 0, multipartExtras);

const { port } = await server.run();
process.stdout.write(`listening ${port}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
