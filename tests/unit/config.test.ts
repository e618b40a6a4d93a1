import { describe, expect, test } from 'bun:test';
import { ConfigError, loadConfig, loadSimulatorConfig } from '../../src/config.ts';

describe('config', () => {
  test('defaults match SPEC §3', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.host).toBe('0.0.0.0');
    expect(c.databasePath).toBe('./data/mj-gateway.db');
    expect(c.serverAddress).toBeNull();
    expect(c.initialRootAccessToken).toBeNull();
    expect(c.updateTask).toBe(true);
    expect(c.pollIntervalMs).toBe(15000);
    expect(c.pollLeaseMs).toBe(30000);
    expect(c.pollBatchSize).toBe(100);
    expect(c.taskTimeoutMs).toBe(3_600_000);
    expect(c.upstreamTimeoutMs).toBe(60_000);
    expect(c.imageFetchAllowPrivate).toBe(false);
    expect(c.demo).toBe(false);
    expect(c.corsOrigins).toEqual(['*']);
    expect(c.logLevel).toBe('info');
    expect(c.metricsPublic).toBe(false);
    expect(c.liveStreamsPerUser).toBe(8);
    expect(c.optionOverrides).toEqual({});
    expect(Object.isFrozen(c)).toBe(true);
  });

  test('every variable is read', () => {
    const c = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_PATH: ':memory:',
      SERVER_ADDRESS: 'https://mj.example.com/',
      INITIAL_ROOT_ACCESS_TOKEN: 'abcdefgh12345678',
      UPDATE_TASK: 'false',
      POLL_INTERVAL_MS: '500',
      POLL_LEASE_MS: '1500',
      POLL_BATCH_SIZE: '7',
      TASK_TIMEOUT_MS: '1000',
      UPSTREAM_TIMEOUT_MS: '2000',
      IMAGE_FETCH_ALLOW_PRIVATE: 'true',
      DEMO: '1',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      LOG_LEVEL: 'debug',
      METRICS_PUBLIC: 'true',
      MJ_FORWARD_URL_ENABLED: 'false',
      MJ_PRICES: '{"mj_imagine":0.2}',
      LIVE_STREAMS_PER_USER: '40',
      UPSTREAM_NOTIFY_BASE_URL: 'https://gw.internal:8443',
    });
    expect(c.upstreamNotifyBaseUrl).toBe('https://gw.internal:8443');
    expect(c.liveStreamsPerUser).toBe(40);
    expect(c.port).toBe(0);
    expect(c.host).toBe('127.0.0.1');
    expect(c.databasePath).toBe(':memory:');
    expect(c.serverAddress).toBe('https://mj.example.com');
    expect(c.initialRootAccessToken).toBe('abcdefgh12345678');
    expect(c.updateTask).toBe(false);
    expect(c.pollIntervalMs).toBe(500);
    expect(c.pollLeaseMs).toBe(1500);
    expect(c.pollBatchSize).toBe(7);
    expect(c.taskTimeoutMs).toBe(1000);
    expect(c.upstreamTimeoutMs).toBe(2000);
    expect(c.imageFetchAllowPrivate).toBe(true);
    expect(c.demo).toBe(true);
    expect(c.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(c.logLevel).toBe('debug');
    expect(c.metricsPublic).toBe(true);
    // DEMO turns upstream push on (SPEC §16).
    expect(c.optionOverrides).toEqual({
      mj_forward_url_enabled: 'false',
      mj_prices: '{"mj_imagine":0.2}',
      mj_upstream_notify_enabled: 'true',
    });
  });

  test('upstream push: off by default, on with DEMO unless MJ_UPSTREAM_NOTIFY_ENABLED says otherwise', () => {
    expect(loadConfig({}).optionOverrides).toEqual({});
    expect(loadConfig({}).upstreamNotifyBaseUrl).toBeNull();
    expect(loadConfig({ DEMO: '1', MJ_UPSTREAM_NOTIFY_ENABLED: 'false' }).optionOverrides).toEqual({
      mj_upstream_notify_enabled: 'false',
    });
    expect(loadConfig({ MJ_UPSTREAM_NOTIFY_ENABLED: 'true' }).optionOverrides).toEqual({
      mj_upstream_notify_enabled: 'true',
    });
  });

  test('an empty variable counts as unset', () => {
    expect(loadConfig({ PORT: '', LOG_LEVEL: ' ' }).port).toBe(3000);
  });

  const bad: Array<[string, string]> = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['POLL_INTERVAL_MS', '-5'],
    ['POLL_INTERVAL_MS', '0'],
    ['POLL_LEASE_MS', '0'],
    ['POLL_LEASE_MS', '-1'],
    ['POLL_LEASE_MS', 'long'],
    ['POLL_BATCH_SIZE', '1.5'],
    ['TASK_TIMEOUT_MS', 'soon'],
    ['UPSTREAM_TIMEOUT_MS', '0'],
    ['SERVER_ADDRESS', 'not a url'],
    ['SERVER_ADDRESS', 'ftp://x.example'],
    ['UPDATE_TASK', 'maybe'],
    ['IMAGE_FETCH_ALLOW_PRIVATE', '2'],
    ['DEMO', 'on?'],
    ['LOG_LEVEL', 'verbose'],
    ['INITIAL_ROOT_ACCESS_TOKEN', 'short'],
    ['METRICS_PUBLIC', 'sometimes'],
    ['DATABASE_POOL_SIZE', '0'],
    ['DATABASE_POOL_SIZE', 'many'],
    ['LIVE_STREAMS_PER_USER', '0'],
    ['UPSTREAM_NOTIFY_BASE_URL', 'gw.example'],
    ['MJ_UPSTREAM_NOTIFY_ENABLED', 'perhaps'],
  ];
  for (const [name, value] of bad) {
    test(`invalid ${name}=${value} names the variable`, () => {
      let err: unknown;
      try {
        loadConfig({ [name]: value });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toStartWith(`invalid configuration: ${name} `);
      // Named once: "PORT: PORT must be…" said it twice.
      expect((err as Error).message.split(name)).toHaveLength(2);
      expect((err as Error).message).not.toContain('\n');
    });
  }

  test('the server exits with code 2 and one line naming the variable', async () => {
    const proc = Bun.spawn(['bun', 'src/index.ts'], {
      env: { PATH: process.env.PATH ?? '', PORT: 'abc' },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const code = await proc.exited;
    const err = await new Response(proc.stderr).text();
    expect(code).toBe(2);
    expect(err).toBe('invalid configuration: PORT must be a whole number\n');
  });
});

describe('DATABASE_URL (PostgreSQL)', () => {
  test('read with its pool size; an unusable URL stops start-up with one line naming it, exit 2, never the password', async () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://u:pw@h/db', DATABASE_POOL_SIZE: '7' });
    expect([c.databaseUrl, c.databasePoolSize]).toEqual(['postgres://u:pw@h/db', 7]);
    expect(loadConfig({ DATABASE_URL: ' ' }).databaseUrl).toBeNull();
    expect(loadConfig({}).databasePoolSize).toBe(10);
    for (const url of ['postgres://user:s3cret-pw@127.0.0.1:1/mj', 'mysql://user:s3cret-pw@h/x']) {
      const proc = Bun.spawn(['bun', 'src/index.ts'], {
        env: { PATH: process.env.PATH ?? '', PORT: '0', DATABASE_URL: url },
        stdout: 'pipe',
        stderr: 'pipe',
      });
      const code = await proc.exited;
      const err = (await new Response(proc.stderr).text()).trim();
      expect(code).toBe(2);
      expect(err).toStartWith('invalid configuration: DATABASE_URL');
      expect(err).not.toContain('s3cret-pw');
      expect(err.split('\n')).toHaveLength(1);
    }
  }, 30_000);
});

describe('simulator config', () => {
  test('defaults and overrides', () => {
    expect(loadSimulatorConfig({})).toEqual({
      port: 8090,
      host: '127.0.0.1',
      secret: null,
      stepMs: 1000,
      slowMs: 65000,
      notify: true,
      imageSize: 256,
    });
    expect(
      loadSimulatorConfig({
        SIM_PORT: '0',
        SIM_SECRET: 's3',
        SIM_STEP_MS: '0',
        SIM_SLOW_MS: '10',
        SIM_HOST: '0.0.0.0',
        SIM_NOTIFY: 'false',
        SIM_IMAGE_SIZE: '2048',
      }),
    ).toEqual({ port: 0, host: '0.0.0.0', secret: 's3', stepMs: 0, slowMs: 10, notify: false, imageSize: 2048 });
    expect(() => loadSimulatorConfig({ SIM_IMAGE_SIZE: '8' })).toThrow('SIM_IMAGE_SIZE must be between 16 and 4096');
  });
  test('an invalid value names the variable', () => {
    expect(() => loadSimulatorConfig({ SIM_STEP_MS: 'fast' })).toThrow(
      'invalid configuration: SIM_STEP_MS must be a whole number',
    );
  });
});
