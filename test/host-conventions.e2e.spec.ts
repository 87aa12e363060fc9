import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Catch, Controller, Get, HttpException, Module, type ArgumentsHost, type ExceptionFilter, type INestApplication } from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ApiOkResponse, ApiProperty, DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Response } from 'express';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupManagerModule, signToken } from '../src/index.js';
import { dropQueueKeys, REDIS_URL } from './support/app.js';

/** The host's own DTO, named like the library's error body used to be. */
class ErrorResponse {
  @ApiProperty({ example: 'E_HOST' }) houseCode!: string;
  @ApiProperty() reportedAt!: string;
}

@Controller('host')
class HostController {
  @Get('thing')
  @ApiOkResponse({ type: ErrorResponse })
  thing(): ErrorResponse {
    return { houseCode: 'E_NONE', reportedAt: new Date().toISOString() };
  }
}

/** The host's global filter: reports every error and answers in the host's own format. */
@Catch()
class HouseFilter implements ExceptionFilter {
  static seen: Array<{ status: number; body: unknown }> = [];

  catch(err: unknown, host: ArgumentsHost): void {
    const status = err instanceof HttpException ? err.getStatus() : 500;
    const body = err instanceof HttpException ? err.getResponse() : undefined;
    HouseFilter.seen.push({ status, body });
    const code = (body as { code?: string } | undefined)?.code;
    host.switchToHttp().getResponse<Response>().status(status).json({ house: true, status, libraryCode: code ?? null });
  }
}

/**
 * Issue 13 item 9: the library leaves the host's HTTP conventions alone. Its routes carry no
 * exception filter, so the host's global filter sees (and formats) its errors with their stable
 * code, and its Swagger schema names are prefixed, so a host DTO named `ErrorResponse` survives.
 */
describe('the library inside a host with its own global filter and DTO names', () => {
  let app: INestApplication;
  let base: string;
  let dataDir: string;
  const queuePrefix = `bmtest-conv-${randomBytes(4).toString('hex')}`;
  const secret = randomBytes(24).toString('hex');

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'bm-conv-'));
    @Module({
      imports: [
        EventEmitterModule.forRoot(),
        BackupManagerModule.forRoot({
          targets: [{ name: 'app', engine: 'postgres', host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' }],
          catalog: { sqlitePath: join(dataDir, 'catalog.sqlite') },
          auth: { jwtSecret: secret },
          redisUrl: REDIS_URL,
          queuePrefix,
          storageDir: join(dataDir, 'backups'),
          tempDir: join(dataDir, 'tmp'),
        }),
      ],
      controllers: [HostController],
      providers: [{ provide: APP_FILTER, useClass: HouseFilter }],
    })
    class HostModule {}
    app = await NestFactory.create(HostModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await dropQueueKeys(queuePrefix);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const get = async (path: string, token?: string) => {
    const r = await fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  it("the host's global filter sees the library's errors, with their stable code", async () => {
    HouseFilter.seen = [];
    const token = signToken(secret, { sub: 'alice', role: 'admin' as never }, { expiresIn: '1h' });
    const id = randomUUID();
    expect(await get(`/backups/${id}`, token)).toEqual({ status: 404, body: { house: true, status: 404, libraryCode: 'BACKUP_NOT_FOUND' } });
    expect(await get('/backups')).toEqual({ status: 401, body: { house: true, status: 401, libraryCode: 'UNAUTHORIZED' } });
    expect(await get('/targets/nope/tables', token)).toEqual({ status: 404, body: { house: true, status: 404, libraryCode: 'TARGET_NOT_FOUND' } });
    expect(await get('/backups?includeDeleted=maybe', token)).toEqual({ status: 400, body: { house: true, status: 400, libraryCode: 'VALIDATION_FAILED' } });
    expect(HouseFilter.seen.map((s) => s.body)).toEqual([
      expect.objectContaining({ statusCode: 404, code: 'BACKUP_NOT_FOUND', message: expect.stringContaining(id) }),
      expect.objectContaining({ statusCode: 401, code: 'UNAUTHORIZED' }),
      expect.objectContaining({ statusCode: 404, code: 'TARGET_NOT_FOUND' }),
      expect.objectContaining({ statusCode: 400, code: 'VALIDATION_FAILED' }),
    ]);
  });

  it("a host DTO named ErrorResponse survives in the host's Swagger document", () => {
    const doc = SwaggerModule.createDocument(app, new DocumentBuilder().setTitle('host').build());
    const schemas = doc.components?.schemas as Record<string, { properties?: Record<string, unknown> }>;
    expect(Object.keys(schemas.ErrorResponse.properties ?? {}).sort()).toEqual(['houseCode', 'reportedAt']);
    expect(Object.keys(schemas.BmErrorResponse.properties ?? {}).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
    const hostOp = doc.paths['/host/thing'].get!.responses['200'] as { content: Record<string, { schema: { $ref: string } }> };
    expect(hostOp.content['application/json'].schema.$ref).toBe('#/components/schemas/ErrorResponse');
  });
});
