import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { ROOT } from './support/processes.js';

/** The TypeScript blocks of the README's "Use inside your Nest app" section, in order. */
function hostSectionBlocks(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Use inside your Nest app');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** Where a block goes in the host, from its first comment line (`// app.module.ts`, `// src/worker.ts: ...`). */
function fileFor(block: string, i: number): string {
  const first = /^\/\/\s*(\S+\.ts)\b/.exec(block)?.[1];
  return first ? join('src', first.replace(/^src\//, '')) : join('src', `snippet-${i}.ts`);
}

/**
 * A CommonJS host as `nest new` makes one, with the README's code pasted in as written and the
 * files it imports from the host itself (a guard, an entity, a migration) stubbed. It resolves
 * `backup-manager` through the package's own `exports` (its built declarations), and everything
 * else from this repository's node_modules.
 */
describe("the README's host example", () => {
  let host: string;

  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'src', 'index.d.ts'))) throw new Error('dist/src/index.d.ts is missing: run `npm run build` (npm test does)');
    host = mkdtempSync(join(tmpdir(), 'bm-readme-host-'));
    const modules = join(host, 'node_modules');
    mkdirSync(modules);
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (!name.startsWith('.')) symlinkSync(join(ROOT, 'node_modules', name), join(modules, name));
    }
    symlinkSync(ROOT, join(modules, 'backup-manager'));
    writeFileSync(join(host, 'package.json'), JSON.stringify({ name: 'host', version: '1.0.0', private: true }));
    const stubs: Record<string, string> = {
      'src/auth/jwt-auth.guard.ts': `import { CanActivate, Injectable } from '@nestjs/common';
@Injectable()
export class JwtAuthGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}
`,
      'src/notes/note.entity.ts': `import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
@Entity('notes')
export class Note {
  @PrimaryGeneratedColumn() id!: number;
  @Column() text!: string;
}
`,
      'src/migrations/1700000000000-create-notes.ts': `import type { MigrationInterface, QueryRunner } from 'typeorm';
export class CreateNotes1700000000000 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE TABLE notes (id serial PRIMARY KEY, text varchar NOT NULL)');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE notes');
  }
}
`,
    };
    for (const [file, text] of Object.entries(stubs)) {
      mkdirSync(dirname(join(host, file)), { recursive: true });
      writeFileSync(join(host, file), text);
    }
  });

  afterAll(() => {
    if (host) rmSync(host, { recursive: true, force: true });
  });

  it('has the module, the facade-and-events and the worker entry blocks', () => {
    const blocks = hostSectionBlocks();
    expect(blocks.some((b) => b.includes('BackupManagerModule.forRootAsync'))).toBe(true);
    expect(blocks.some((b) => b.includes('@OnEvent(BackupEvents.Completed)'))).toBe(true);
    expect(blocks.some((b) => b.includes('BackupManagerWorkerModule.forRootAsync'))).toBe(true);
  });

  it('compiles as written in a strict CommonJS Nest host', () => {
    const files = hostSectionBlocks().map((block, i) => {
      const file = join(host, fileFor(block, i));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, block);
      return file;
    });
    const program = ts.createProgram(files, {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2023,
      strict: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      esModuleInterop: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file ? `${d.file.fileName.replace(host, '<host>')}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(problems).toEqual([]);
    // The control: a wrong option in a block is caught, so the check above can fail.
    const broken = join(host, 'src', 'broken.ts');
    writeFileSync(broken, hostSectionBlocks().find((b) => b.includes('BackupManagerWorkerModule'))!.replace("queuePrefix: 'backup-manager'", 'queuePrefix: 42'));
    const again = ts.createProgram([broken], program.getCompilerOptions());
    expect(ts.getPreEmitDiagnostics(again).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n')).toMatch(/Type 'number' is not assignable to type 'string'/);
  });
});
