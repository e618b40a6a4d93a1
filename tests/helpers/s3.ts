import { startScriptService } from './script-service.ts';

/**
 * The S3-compatible server of the suite (s3rver): `scripts/test.sh` starts one and passes it as
 * TEST_S3_ENDPOINT (and TEST_S3_BUCKET); a file run alone starts its own through the same script,
 * stopped when the test process ends. Never skipped: a server that cannot start fails the tests.
 */
/** s3rver's fixed test account. */
const ACCESS_KEY_ID = 'S3RVER';
const SECRET_ACCESS_KEY = 'S3RVER';

export interface TestBucket {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
}

let server: TestBucket | null = null;

function startOwnServer(): TestBucket {
  const vars = startScriptService('s3-server.sh', 'MJ_S3_OWNER_PID', 'S3DIR', 'the S3 test server');
  return {
    endpoint: vars.S3_ENDPOINT!,
    bucket: vars.S3_BUCKET!,
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
  };
}

export function testBucket(): TestBucket {
  server ??= process.env.TEST_S3_ENDPOINT
    ? {
        endpoint: process.env.TEST_S3_ENDPOINT,
        bucket: process.env.TEST_S3_BUCKET || 'mj-test',
        accessKeyId: ACCESS_KEY_ID,
        secretAccessKey: SECRET_ACCESS_KEY,
      }
    : startOwnServer();
  return server;
}

/** The gateway's environment for an image store in the test bucket under its own `prefix`. */
export function s3Env(prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  const b = testBucket();
  return {
    IMAGE_STORE: `s3://${b.bucket}/${prefix}`,
    S3_ENDPOINT: b.endpoint,
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY_ID: b.accessKeyId,
    S3_SECRET_ACCESS_KEY: b.secretAccessKey,
    ...extra,
  };
}

/** A client on the test bucket, to look at what the gateway stored. */
export function bucketClient(): Bun.S3Client {
  const b = testBucket();
  return new Bun.S3Client({
    endpoint: b.endpoint,
    bucket: b.bucket,
    region: 'us-east-1',
    accessKeyId: b.accessKeyId,
    secretAccessKey: b.secretAccessKey,
  });
}

/** A prefix no other test uses. */
export function uniquePrefix(name: string): string {
  return `${name}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
