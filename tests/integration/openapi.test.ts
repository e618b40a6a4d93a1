import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { validate } from '@readme/openapi-parser';
// ajv comes with @readme/openapi-parser; it checks real answers against the document's JSON Schemas.
import Ajv2020 from 'ajv/dist/2020.js';
import { eq } from 'drizzle-orm';
import { tasks } from '../../src/db/schema/index.ts';
import { SUBMIT_ROUTES } from '../../src/domain/relay/schemas.ts';
import { DOCUMENTED_SCHEMAS, jsonSchemaOf } from '../../src/http/openapi.ts';
import type { TestUser } from '../helpers/factories.ts';
import { addApiKey, addUser } from '../helpers/rows.ts';
import { ROOT_HEADERS } from '../helpers/server.ts';
import { type RelayWorld, relayWorld, SIM_SECRETS } from './relay-fixture.ts';

type Json = Record<string, any>;

let world: RelayWorld;
let doc: Json;
let user: TestUser;
let keyHeaders: Record<string, string>;
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
const checked = new Set<string>();
const validators = new Map<string, ReturnType<typeof ajv.compile>>();

beforeAll(async () => {
  world = await relayWorld();
  user = await addUser(world.srv.handle, { quota: 10_000_000 });
  keyHeaders = (await addApiKey(world.srv.handle, user.id, { unlimited: true })).headers;
  const res = await fetch(`${world.srv.url}/openapi.json`);
  expect(res.headers.get('content-type')).toContain('application/json');
  doc = (await res.json()) as Json;
});
afterAll(() => world.stop());

/**
 * A real answer against the document: the documented response of (path, method, status) names a
 * component; the body must pass that component's JSON Schema (ajv) and its zod source.
 */
async function expectDocumented(path: string, method: string, res: Response): Promise<unknown> {
  const op = doc.paths[path]?.[method];
  expect(op).toBeDefined();
  const documented = op.responses[String(res.status)] ?? op.responses.default;
  expect(documented).toBeDefined();
  const ref = documented.content?.['application/json']?.schema?.$ref as string | undefined;
  expect(ref).toBeDefined();
  expect(res.headers.get('content-type')).toContain('application/json');
  const name = ref!.replace('#/components/schemas/', '');
  const body = (await res.json()) as unknown;
  const check = validators.get(name) ?? ajv.compile(doc.components.schemas[name]);
  validators.set(name, check);
  if (!check(body))
    throw new Error(
      `${method} ${path} ${res.status} does not match ${name}: ${ajv.errorsText(check.errors)}\n${JSON.stringify(body)}`,
    );
  DOCUMENTED_SCHEMAS[name]!.schema.parse(body);
  checked.add(`${method} ${path} ${res.status}`);
  return body;
}

const url = (path: string) => `${world.srv.url}${path}`;
const postJson = (path: string, body: unknown, headers: Record<string, string>) =>
  fetch(url(path), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('GET /openapi.json', () => {
  test('is a valid OpenAPI 3.1 document, and the validator does reject a broken one', async () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: world.srv.deps.serverAddress() }]);
    const result = await validate(structuredClone(doc) as never);
    expect(result).toMatchObject({ valid: true, specification: 'OpenAPI' });
    const broken = structuredClone(doc);
    delete broken.paths['/api/status'].get.responses;
    broken.paths['/healthz'].get.security = 'none';
    expect((await validate(broken as never)).valid).toBe(false);
  }, 30_000); // the validator compiles the OpenAPI meta-schema on first use; nothing asserts on time

  test('covers every REST alias, relay route and the image route, with both auth schemes', () => {
    const expected = ['/api/mj/self', '/api/mj/', '/api/status', '/healthz', '/mj/notify/{channel}/{secret}'];
    for (const prefix of ['/mj', '/{mode}/mj']) {
      for (const suffix of Object.keys(SUBMIT_ROUTES)) expected.push(`${prefix}${suffix}`);
      expected.push(
        `${prefix}/task/{id}/fetch`,
        `${prefix}/task/list-by-condition`,
        `${prefix}/task/{id}/image-seed`,
        `${prefix}/image/{id}`,
      );
    }
    expect(Object.keys(doc.paths).sort()).toEqual(expected.sort());
    expect(doc.components.securitySchemes).toMatchObject({
      managementToken: { type: 'http', scheme: 'bearer' },
      managementUser: { type: 'apiKey', in: 'header', name: 'New-Api-User' },
      relayKey: { type: 'http', scheme: 'bearer' },
      relaySecret: { type: 'apiKey', in: 'header', name: 'mj-api-secret' },
    });
    expect(doc.paths['/api/mj/self'].get.security).toEqual([{ managementToken: [], managementUser: [] }]);
    expect(doc.paths['/mj/submit/imagine'].post.security).toEqual([{ relayKey: [] }, { relaySecret: [] }]);
    expect(doc.paths['/mj/image/{id}'].get.security).toEqual([]);
    // The upstream's push callback: the path's secret is the credential (SPEC §16).
    expect(doc.paths['/mj/notify/{channel}/{secret}'].post.security).toEqual([]);
    expect(Object.keys(doc.paths['/mj/notify/{channel}/{secret}'].post.responses)).toEqual([
      '204',
      '400',
      '401',
      '404',
      '413',
    ]);
    const params = doc.paths['/api/mj/'].get.parameters.map((p: Json) => p.name);
    expect(params).toEqual([
      'p',
      'page_size',
      'mj_id',
      'start_timestamp',
      'end_timestamp',
      'status',
      'action',
      'channel_id',
    ]);
  });

  test('its schemas are the JSON Schemas of the zod schemas the code uses', () => {
    for (const [name, { schema, io }] of Object.entries(DOCUMENTED_SCHEMAS)) {
      expect(doc.components.schemas[name]).toEqual(jsonSchemaOf(schema, io));
    }
    // Requests are described as they are accepted: numbers or numeric strings, required fields.
    expect(doc.paths['/api/mj/self'].get.parameters[0].schema.anyOf.map((s: Json) => s.type)).toEqual([
      'number',
      'string',
    ]);
    expect(doc.components.schemas.ImagineRequest.required).toEqual(['prompt']);
    expect(doc.components.schemas.ChangeRequest.properties.action.enum).toEqual(['UPSCALE', 'VARIATION', 'REROLL']);
  });
});

describe('real answers match their documented schemas', () => {
  let mjId = '';

  test('relay: submit, fetch, list-by-condition, image-seed and their refusals', async () => {
    const submitted = (await expectDocumented(
      '/mj/submit/imagine',
      'post',
      await postJson('/mj/submit/imagine', { prompt: 'a cat' }, keyHeaders),
    )) as Json;
    expect(submitted.code).toBe(1);
    mjId = submitted.result;
    const moded = (await expectDocumented(
      '/{mode}/mj/submit/imagine',
      'post',
      await postJson('/mj-fast/mj/submit/imagine', { prompt: 'a dog' }, keyHeaders),
    )) as Json;
    expect(moded.code).toBe(1);
    expect(
      (
        (await expectDocumented(
          '/mj/submit/blend',
          'post',
          await postJson('/mj/submit/blend', { base64Array: ['x'] }, keyHeaders),
        )) as Json
      ).description,
    ).toContain('base64Array');
    await expectDocumented('/mj/submit/imagine', 'post', await postJson('/mj/submit/imagine', { prompt: 'x' }, {}));
    await expectDocumented(
      '/mj/submit/change',
      'post',
      await postJson('/mj/submit/change', { taskId: 'nope', action: 'UPSCALE', index: 1 }, keyHeaders),
    );

    const fetched = (await expectDocumented(
      '/mj/task/{id}/fetch',
      'get',
      await fetch(url(`/mj/task/${mjId}/fetch`), { headers: keyHeaders }),
    )) as Json;
    expect(fetched.id).toBe(mjId);
    await expectDocumented(
      '/mj/task/{id}/fetch',
      'get',
      await fetch(url('/mj/task/nope/fetch'), { headers: keyHeaders }),
    );
    const listed = (await expectDocumented(
      '/mj/task/list-by-condition',
      'post',
      await postJson('/mj/task/list-by-condition', { ids: [mjId, 'nope'] }, keyHeaders),
    )) as Json[];
    expect(listed.map((t) => t.id)).toEqual([mjId]);
    await expectDocumented(
      '/mj/task/list-by-condition',
      'post',
      await postJson('/mj/task/list-by-condition', { ids: 'x' }, keyHeaders),
    );

    const seed = (await expectDocumented(
      '/mj/task/{id}/image-seed',
      'get',
      await fetch(url(`/mj/task/${mjId}/image-seed`), { headers: keyHeaders }),
    )) as Json;
    expect(seed.code).toBe(1);
    expect(typeof seed.result).toBe('string');
    expect(checked).toContain('post /mj/submit/imagine 401');
    expect(checked).toContain('post /mj/submit/change 404');
  });

  test('image route: the image, and a JSON error for an unknown task', async () => {
    const upstream = (await (
      await fetch(`${world.sims[0]!.url}/mj/task/${mjId}/fetch`, { headers: { 'mj-api-secret': SIM_SECRETS[0]! } })
    ).json()) as Json;
    expect(upstream.status).toBe('SUCCESS');
    world.srv.db
      .update(tasks)
      .set({ imageUrl: upstream.imageUrl, status: 'SUCCESS', progress: '100%' })
      .where(eq(tasks.mjId, mjId))
      .run();
    const image = await fetch(url(`/mj/image/${mjId}`));
    expect(image.status).toBe(200);
    expect(Object.keys(doc.paths['/mj/image/{id}'].get.responses[200].content)).toEqual(['image/*']);
    expect(image.headers.get('content-type')).toStartWith('image/');
    expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(0);
    await expectDocumented('/mj/image/{id}', 'get', await fetch(url('/mj/image/nope')));
    // A rendition's invalid parameter (SPEC §18): a documented 400.
    const params = doc.paths['/mj/image/{id}'].get.parameters.map((p: Json) => p.name);
    expect(params).toEqual(['id', 'w', 'part']);
    await expectDocumented('/mj/image/{id}', 'get', await fetch(url(`/mj/image/${mjId}?w=1`)));
    const webp = await fetch(url(`/mj/image/${mjId}?w=128&part=2`));
    expect(webp.headers.get('content-type')).toBe('image/webp');
    await webp.arrayBuffer();
  });

  test('management aliases, their errors, status and health', async () => {
    const own = (await expectDocumented(
      '/api/mj/self',
      'get',
      await fetch(url('/api/mj/self'), { headers: user.headers }),
    )) as Json;
    expect(own.data.items.map((i: Json) => i.mj_id)).toContain(mjId);
    await expectDocumented('/api/mj/', 'get', await fetch(url('/api/mj/?page_size=5'), { headers: ROOT_HEADERS }));
    await expectDocumented('/api/mj/self', 'get', await fetch(url('/api/mj/self?p=0'), { headers: user.headers }));
    await expectDocumented('/api/mj/self', 'get', await fetch(url('/api/mj/self')));
    await expectDocumented('/api/mj/', 'get', await fetch(url('/api/mj/'), { headers: user.headers }));
    await expectDocumented('/api/status', 'get', await fetch(url('/api/status')));
    const health = await fetch(url('/healthz'));
    expect(Object.keys(doc.paths['/healthz'].get.responses[200].content)).toEqual(['text/plain']);
    expect(health.headers.get('content-type')).toContain('text/plain');
    expect(await health.text()).toBe('ok');
    for (const s of ['get /api/mj/self 200', 'get /api/mj/self 400', 'get /api/mj/self 401', 'get /api/mj/ 403'])
      expect(checked).toContain(s);
  });
});

describe('GET /docs', () => {
  test('an HTML page whose assets are all same-origin, and load', async () => {
    const res = await fetch(url('/docs'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.sort()).toEqual([
      '/docs/assets/favicon-32x32.png',
      '/docs/assets/init.js',
      '/docs/assets/swagger-ui-bundle.js',
      '/docs/assets/swagger-ui.css',
    ]);
    expect(html).not.toMatch(/https?:\/\/|\/\/[a-z]/i);
    const types: Record<string, string> = { css: 'text/css', js: 'text/javascript', png: 'image/png' };
    for (const ref of refs) {
      const asset = await fetch(url(ref));
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toContain(types[ref.split('.').pop()!]!);
      const text = await asset.text();
      expect(text.length).toBeGreaterThan(ref.endsWith('init.js') ? 50 : ref.endsWith('.png') ? 100 : 10_000);
      if (ref.endsWith('init.js')) expect(text).toContain("url: '/openapi.json'");
    }
  });
});
