/**
 * The S3 server alone, for the off-site bench: uploads a finished artifact file with the AWS SDK
 * and nothing else (no dump, no worker, no catalog) as a multipart upload of the same part size
 * and parts in flight, and times the parts and the completion separately. What this takes is the
 * floor any backup to that server pays, however fast the dump is.
 */
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { open } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

export interface RawUploadOptions {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  file: string;
  partSize: number;
  partsInFlight: number;
}

/** @returns ms spent sending the parts and ms the server took to complete the upload. */
export async function rawUpload(o: RawUploadOptions): Promise<{ partsMs: number; completeMs: number; bytes: number }> {
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: o.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const fh = await open(o.file);
  const Key = `raw/${Date.now()}.bin`;
  try {
    const size = (await fh.stat()).size;
    const t0 = performance.now();
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: o.bucket, Key }));
    const count = Math.ceil(size / o.partSize);
    const etags: string[] = [];
    let next = 0;
    const sender = async () => {
      for (let i = next++; i < count; i = next++) {
        const len = Math.min(o.partSize, size - i * o.partSize);
        const body = Buffer.allocUnsafe(len);
        await fh.read(body, 0, len, i * o.partSize);
        etags[i] = (await client.send(new UploadPartCommand({ Bucket: o.bucket, Key, UploadId, PartNumber: i + 1, Body: body }))).ETag!;
      }
    };
    await Promise.all(Array.from({ length: o.partsInFlight }, sender));
    const t1 = performance.now();
    await client.send(new CompleteMultipartUploadCommand({ Bucket: o.bucket, Key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
    const t2 = performance.now();
    return { partsMs: Math.round(t1 - t0), completeMs: Math.round(t2 - t1), bytes: size };
  } finally {
    await client.send(new DeleteObjectCommand({ Bucket: o.bucket, Key })).catch(() => undefined);
    client.destroy();
    await fh.close();
  }
}
