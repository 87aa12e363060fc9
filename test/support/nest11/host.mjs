// A Nest 11 host (plain JavaScript, ESM) importing the packed backup-manager: boots the module
// with a PostgreSQL target and catalog, serves one library route, runs one backup, and prints
// what it saw as one JSON line. Run from the temporary host directory by test/nest11-host.e2e.spec.ts.
import 'reflect-metadata';
import { createRequire } from 'node:module';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { BackupManagerModule, BackupsService, signToken } from 'backup-manager';

const require = createRequire(import.meta.url);
const env = JSON.parse(process.env.HOST_SETTINGS);

class Host {}
Module({
  imports: [
    // The host's own: the library emits on it and never imports one itself.
    EventEmitterModule.forRoot(),
    BackupManagerModule.forRoot({
      targets: [{ name: 'app', engine: 'postgres', host: '127.0.0.1', port: 5432, user: 'postgres', database: env.database }],
      catalog: { url: `postgres://postgres@127.0.0.1:5432/${env.database}` },
      auth: { jwtSecret: env.secret },
      redisUrl: env.redisUrl,
      queuePrefix: env.queuePrefix,
      storageDir: env.storageDir,
      tempDir: env.tempDir,
      workers: true,
    }),
  ],
})(Host);

const app = await NestFactory.create(Host, { logger: ['error', 'warn'] });
await app.listen(0, '127.0.0.1');
const base = `http://127.0.0.1:${app.getHttpServer().address().port}`;
const token = signToken(env.secret, { sub: 'nest11', role: 'admin' }, { expiresIn: '1h' });
const list = await fetch(`${base}/backups`, { headers: { authorization: `Bearer ${token}` } });
const backups = app.get(BackupsService);
const record = await backups.request({ target: 'app' });
let status = record.status;
for (const end = Date.now() + 60_000; !['COMPLETED', 'VERIFIED', 'FAILED'].includes(status) && Date.now() < end; ) {
  await new Promise((r) => setTimeout(r, 200));
  status = (await backups.get(record.id)).status;
}
await app.close();
process.stdout.write(
  `${JSON.stringify({ nest: require('@nestjs/common/package.json').version, core: require('@nestjs/core/package.json').version, listStatus: list.status, backupStatus: status })}\n`,
);
