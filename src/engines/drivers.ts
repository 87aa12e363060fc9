import { createRequire } from 'node:module';
import type * as MysqlPromise from 'mysql2/promise';
import type * as Pg from 'pg';

const require = createRequire(import.meta.url);

/**
 * Database drivers, loaded when a target of their engine is first used: a host that backs up
 * PostgreSQL never loads mysql2, and importing the library loads neither. Both are CommonJS, so
 * `require` loads them synchronously at the first call.
 */
let pgDriver: typeof Pg | undefined;
let mysqlDriver: typeof MysqlPromise | undefined;

export function pg(): typeof Pg {
  return (pgDriver ??= require('pg') as typeof Pg);
}

export function mysql(): typeof MysqlPromise {
  return (mysqlDriver ??= require('mysql2/promise') as typeof MysqlPromise);
}
