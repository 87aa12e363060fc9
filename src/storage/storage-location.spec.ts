import { describe, expect, it } from '@jest/globals';
import { describeLocation, parseStorageUrl } from './storage-location.js';

describe('storage URLs', () => {
  it('reads a local directory and an S3 bucket with its endpoint, region and addressing', () => {
    expect(parseStorageUrl('file:///var/backups/')).toEqual({ kind: 'local', dir: '/var/backups' });
    expect(parseStorageUrl('s3://backups/prod/db?endpoint=http://127.0.0.1:9000&region=eu-west-1&forcePathStyle=true')).toEqual({
      kind: 's3',
      bucket: 'backups',
      prefix: 'prod/db/',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      forcePathStyle: true,
    });
    expect(parseStorageUrl('s3://my.bucket')).toMatchObject({ bucket: 'my.bucket', prefix: '', region: 'us-east-1', forcePathStyle: false, endpoint: undefined });
    expect(describeLocation(parseStorageUrl('s3://b-1/p?endpoint=https://s3.example.com:9000/x'))).toBe('s3://b-1/p/ at https://s3.example.com:9000 (us-east-1)');
  });

  it('refuses what it cannot use, saying what to write instead', () => {
    expect(() => parseStorageUrl('/var/backups')).toThrow(/not a URL/);
    expect(() => parseStorageUrl('ftp://x/y')).toThrow(/file:\/\/ or s3:\/\//);
    expect(() => parseStorageUrl('file://host/dir')).toThrow(/three slashes/);
    expect(() => parseStorageUrl('s3://AK:SECRET@bucket/p')).toThrow(/must not hold credentials/);
    expect(() => parseStorageUrl('s3://Bad_Bucket/p')).toThrow(/not a valid bucket name/);
    expect(() => parseStorageUrl('s3://bucket/a%20b/p')).toThrow(/segment "a b" is not allowed/);
    expect(() => parseStorageUrl('s3://bucket/p?endpoint=ftp://x')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => parseStorageUrl('s3://bucket/p?bucketEndpoint=1')).toThrow(/unknown parameter bucketEndpoint/);
    expect(() => parseStorageUrl('s3://bucket/p?forcePathStyle=yes')).toThrow(/true or false/);
  });
});
