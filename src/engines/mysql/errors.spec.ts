import { describe, expect, it } from '@jest/globals';
import { classifyMysqlError, errnoOf } from './errors.js';

const target = { host: 'db', port: 3306, database: 'shop', password: 's3cret pw' };

describe('the MySQL error classifier', () => {
  it.each([
    [1045, "Access denied for user 'bm'@'10.0.0.2' (using password: YES)"],
    [1044, "Access denied for user 'bm'@'%' to database 'shop'"],
    [1049, "Unknown database 'gone'"],
    [1142, 'SELECT command denied to user'],
    [1698, "Access denied for user 'root'@'localhost'"],
  ])('gives up on server error %i', (errno, message) => {
    expect(classifyMysqlError({ message, errno }, target).retryable).toBe(false);
  });

  it('retries lost connections and busy servers', () => {
    expect(classifyMysqlError({ message: 'connect ECONNREFUSED 127.0.0.1:3306', code: 'ECONNREFUSED' }, target).retryable).toBe(true);
    expect(classifyMysqlError({ message: 'Too many connections', errno: 1040 }, target).retryable).toBe(true);
    expect(classifyMysqlError('mariadb-dump: Error 2013: Lost connection to server during query when dumping table `orders`', target, 2).retryable).toBe(true);
  });

  it('reads the error number a client program printed', () => {
    expect(errnoOf("mysqldump: Got error: 1049: Unknown database 'gone' when selecting the database")).toBe(1049);
    expect(errnoOf("ERROR 1045 (28000): Access denied for user 'bm'")).toBe(1045);
    expect(errnoOf('no number here')).toBeUndefined();
    expect(classifyMysqlError("mysqldump: Got error: 1049: Unknown database 'gone' when selecting the database", target, 2).retryable).toBe(false);
    expect(classifyMysqlError("mariadb-dump: Couldn't find table: \"orders\"", target, 2).retryable).toBe(false);
  });

  it('names the place, strips the client name and never shows the password', () => {
    const e = classifyMysqlError("mysql: Access denied for user 'bm' using password s3cret pw", target, 1);
    expect(e.message).toBe("MySQL db:3306/shop: Access denied for user 'bm' using password ***");
    expect(classifyMysqlError('', target, 4).message).toBe('MySQL db:3306/shop: the dump client exited with code 4');
  });
});
