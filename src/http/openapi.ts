import { z } from 'zod';
import { listByConditionSchema, SUBMIT_ROUTES, SUBMIT_SCHEMAS, type SubmitKind } from '../domain/relay/schemas.ts';
import {
  imageErrorSchema,
  imageSeedAnswerSchema,
  relayAuthErrorSchema,
  relayErrorSchema,
  relayTaskListSchema,
  relayTaskViewSchema,
  submitAnswerSchema,
} from '../domain/relay/views.ts';
import { allTaskRestQuerySchema, selfTaskRestQuerySchema } from '../domain/task-query.ts';
import { adminTaskPageSchema, taskPageSchema } from '../domain/task-views.ts';
import { statusSchema } from '../trpc/routers/index.ts';
import { managementErrorSchema, restEnvelopeSchema } from './openapi-schemas.ts';

/**
 * The OpenAPI 3.1 document of the HTTP surface (SPEC §14), generated from the zod schemas the code
 * validates requests with and answers with: requests as their input type, answers as their output.
 */

type Io = 'input' | 'output';
type Json = Record<string, unknown>;

/** Every schema of the document by component name, with the side it describes (tests use this too). */
export const DOCUMENTED_SCHEMAS: Record<string, { schema: z.ZodType; io: Io }> = {
  TaskPageEnvelope: { schema: restEnvelopeSchema(taskPageSchema), io: 'output' },
  AdminTaskPageEnvelope: { schema: restEnvelopeSchema(adminTaskPageSchema), io: 'output' },
  StatusEnvelope: { schema: restEnvelopeSchema(statusSchema), io: 'output' },
  ManagementError: { schema: managementErrorSchema, io: 'output' },
  SubmitAnswer: { schema: submitAnswerSchema, io: 'output' },
  RelayTask: { schema: relayTaskViewSchema, io: 'output' },
  RelayTaskList: { schema: relayTaskListSchema, io: 'output' },
  ImageSeedAnswer: { schema: imageSeedAnswerSchema, io: 'output' },
  RelayError: { schema: relayErrorSchema, io: 'output' },
  RelayAuthError: { schema: relayAuthErrorSchema, io: 'output' },
  ImageError: { schema: imageErrorSchema, io: 'output' },
  ListByConditionRequest: { schema: listByConditionSchema, io: 'input' },
  ...Object.fromEntries(
    Object.entries(SUBMIT_SCHEMAS).map(([kind, schema]) => [
      `${pascal(kind)}Request`,
      { schema, io: 'input' as const },
    ]),
  ),
};

function pascal(kind: string): string {
  return kind
    .split('-')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

/** JSON Schema (2020-12, the dialect of OpenAPI 3.1) of one zod schema. */
export function jsonSchemaOf(schema: z.ZodType, io: Io): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  return rest;
}

const ref = (name: string) => {
  if (!DOCUMENTED_SCHEMAS[name]) throw new Error(`no schema ${name}`);
  return { $ref: `#/components/schemas/${name}` };
};
const json = (name: string, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(name) } },
});

const QUERY_HELP: Record<string, string> = {
  p: 'Page, from 1 (default 1)',
  page_size: 'Items per page (default 20; above 100 is clamped to 100)',
  mj_id: 'Exact upstream task id',
  start_timestamp: 'Inclusive lower bound on submit_time; below 100000000000 read as seconds, else ms',
  end_timestamp: 'Inclusive upper bound on submit_time; seconds or ms as start_timestamp',
  channel_id: 'Only tasks of this channel',
  status: 'Exact status; none is the empty status of a task not yet polled (total stays exact)',
  action: 'Exact action, e.g. IMAGINE or UPSCALE (total stays exact)',
};

/** Query parameters from an object schema: each property one optional parameter. */
function queryParameters(schema: z.ZodType): Json[] {
  const props = (jsonSchemaOf(schema, 'input').properties ?? {}) as Record<string, Json>;
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: 'query',
    required: false,
    description: QUERY_HELP[name] ?? name,
    schema: s,
  }));
}

const MANAGEMENT_SECURITY = [{ managementToken: [], managementUser: [] }];
const RELAY_SECURITY = [{ relayKey: [] }, { relaySecret: [] }];

const managementErrors = {
  400: json('ManagementError', 'A parameter is not valid; the message names it'),
  401: json('ManagementError', 'Missing or wrong access token or New-Api-User'),
  403: json('ManagementError', 'User banned, or role too low'),
};

function listing(admin: boolean): Json {
  return {
    tags: ['Management'],
    operationId: admin ? 'listAllTasks' : 'listOwnTasks',
    summary: admin ? 'All tasks, with user_id and channel_id (admin)' : "The caller's own tasks, newest first",
    description: admin
      ? 'Also served at /api/mj. Same data as mj.all over tRPC, where buttons and properties come parsed (array, object) and the parameters are numbers.'
      : 'Also served at /api/mj/self/. Same data as mj.self over tRPC, where buttons and properties come parsed (array, object) and the parameters are numbers. An empty parameter counts as absent.',
    security: MANAGEMENT_SECURITY,
    parameters: queryParameters(admin ? allTaskRestQuerySchema : selfTaskRestQuerySchema),
    responses: {
      200: json(admin ? 'AdminTaskPageEnvelope' : 'TaskPageEnvelope', 'One page of tasks'),
      ...managementErrors,
    },
  };
}

/** A required string parameter of the path. */
const pathParam = (name: string, description: string) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string' },
});
const idParam = pathParam('id', 'The upstream task id (mj_id)');
const modeParam = pathParam('mode', 'Speed mode, forwarded as is (e.g. mj-fast, mj-relax)');

const relayErrors = {
  401: json('RelayAuthError', 'Missing, unknown, disabled, expired or exhausted API key'),
  403: json('RelayAuthError', "The key's user is banned"),
};

/** The relay routes under one prefix (`/mj` or `/{mode}/mj`). */
function relayPaths(prefix: string, withMode: boolean): Record<string, Json> {
  const base = withMode ? { parameters: [modeParam] } : {};
  const tags = [withMode ? 'Relay (mode prefix)' : 'Relay'];
  const op = (name: string) => (withMode ? `mode${name[0]!.toUpperCase()}${name.slice(1)}` : name);
  const paths: Record<string, Json> = {};
  for (const [suffix, kind] of Object.entries(SUBMIT_ROUTES) as [string, SubmitKind][]) {
    paths[`${prefix}${suffix}`] = {
      ...base,
      post: {
        tags,
        operationId: op(`submit${pascal(kind)}`),
        summary: `Submit ${kind}`,
        security: RELAY_SECURITY,
        requestBody: { required: true, content: { 'application/json': { schema: ref(`${pascal(kind)}Request`) } } },
        responses: {
          200: json(
            'SubmitAnswer',
            'The upstream answer: code 1 accepted (result = task id); other codes refused and refunded',
          ),
          400: json(
            'RelayError',
            'Invalid body (the description names the field), quota_not_enough, task_status_not_success, channel_disabled',
          ),
          ...relayErrors,
          404: json('RelayError', 'task_not_found (the parent of a follow-up)'),
          429: {
            ...json(
              'RelayAuthError',
              "rate_limit_exceeded: the key's submits per minute are used up; nothing charged or forwarded",
            ),
            headers: {
              'Retry-After': { description: 'Seconds until the window frees', schema: { type: 'integer', minimum: 1 } },
            },
          },
          502: json('RelayError', 'do_request_failed or unmarshal_response_body_failed'),
          503: json('RelayError', 'no available channel (code 3)'),
          504: json('RelayError', 'upstream_timeout'),
          default: json('SubmitAnswer', 'Any other upstream status, its body passed through'),
        },
      },
    };
  }
  paths[`${prefix}/task/{id}/fetch`] = {
    ...base,
    get: {
      tags,
      operationId: op('fetchTask'),
      summary: "One of the caller's tasks (from the local database)",
      security: RELAY_SECURITY,
      parameters: [idParam],
      responses: { 200: json('RelayTask', 'The task'), ...relayErrors, 404: json('RelayError', 'task_not_found') },
    },
  };
  paths[`${prefix}/task/list-by-condition`] = {
    ...base,
    post: {
      tags,
      operationId: op('listTasksByCondition'),
      summary: "The caller's tasks among ids (unknown or foreign ids dropped)",
      security: RELAY_SECURITY,
      requestBody: { required: true, content: { 'application/json': { schema: ref('ListByConditionRequest') } } },
      responses: {
        200: json('RelayTaskList', 'The tasks found'),
        400: json('RelayError', 'More than 500 ids, or ids not strings'),
        ...relayErrors,
      },
    },
  };
  paths[`${prefix}/task/{id}/image-seed`] = {
    ...base,
    get: {
      tags,
      operationId: op('imageSeed'),
      summary: "The image seed, asked of the task's channel",
      security: RELAY_SECURITY,
      parameters: [idParam],
      responses: {
        200: json('ImageSeedAnswer', 'The upstream answer'),
        ...relayErrors,
        404: json('RelayError', 'task_not_found'),
        502: json('RelayError', 'do_request_failed'),
        504: json('RelayError', 'upstream_timeout'),
        default: json('ImageSeedAnswer', 'Any other upstream status, its body passed through'),
      },
    },
  };
  const image = {
    tags,
    summary: "The task's image, streamed through the gateway (no key needed); `w` / `part` ask for a WebP rendition",
    security: [],
    parameters: [
      idParam,
      {
        name: 'w',
        in: 'query',
        required: false,
        description:
          'A WebP rendition at most this wide: snapped up to 128, 256, 512 or 1024, made once and kept (SPEC §18). Unfinished tasks and non-image results ignore it.',
        schema: { type: 'integer', minimum: 64, maximum: 1024 },
      },
      {
        name: 'part',
        in: 'query',
        required: false,
        description: 'One quadrant of a 2×2 grid as WebP, 1–4 left to right, top to bottom; combinable with `w`.',
        schema: { type: 'integer', minimum: 1, maximum: 4 },
      },
    ],
    responses: {
      200: {
        description: 'The image (image/webp for a rendition)',
        content: { 'image/*': { schema: { type: 'string', contentMediaType: 'image/*' } } },
      },
      400: json('ImageError', 'invalid_w or invalid_part (with a message naming the allowed values)'),
      206: { description: 'A range of the image' },
      304: { description: 'Not modified' },
      403: json('ImageError', 'The image URL is blocked (private address)'),
      404: json('ImageError', 'midjourney_task_not_found'),
      502: json('ImageError', 'http_get_image_failed or too_many_redirects'),
      504: json('ImageError', 'image_fetch_timeout'),
    },
  };
  paths[`${prefix}/image/{id}`] = {
    ...base,
    get: { ...image, operationId: op('image') },
    head: { ...image, operationId: op('imageHead') },
  };
  return paths;
}

const notifyError = (description: string) => ({
  description,
  content: {
    'application/json': { schema: { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] } },
  },
});

/** The upstream's push callback (SPEC §16): the hook forwarded jobs carry while mj_upstream_notify_enabled is on. */
const NOTIFY_OPERATION: Json = {
  tags: ['Relay'],
  operationId: 'upstreamNotify',
  security: [],
  summary:
    'An upstream pushes a task change (the hook the gateway forwards with each job; the path secret is the credential)',
  parameters: [
    { name: 'channel', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } },
    { name: 'secret', in: 'path', required: true, schema: { type: 'string' } },
  ],
  requestBody: { required: true, content: { 'application/json': { schema: ref('RelayTask') } } },
  responses: {
    204: { description: 'Applied as the poller applies a polled change (a finished task never moves)' },
    400: notifyError('Not JSON, or not a task object'),
    401: notifyError('invalid_notify_secret: wrong secret or channel; nothing changed'),
    404: notifyError('task_not_found: the channel has no task of that id'),
    413: notifyError('Body over 1 MiB'),
  },
};

/** The document without `servers` (those depend on the address the gateway is reached at). */
export function buildOpenApiDocument(version: string): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'mj-gateway',
      version,
      description:
        'A Midjourney relay gateway: the midjourney-proxy compatible relay (/mj/...), the management REST aliases ' +
        '(/api/...) and the image forwarder. The full management API is tRPC at /trpc (typed client: the mj-gateway-client package).',
    },
    tags: [
      { name: 'Management', description: 'Access token (Authorization: Bearer) and New-Api-User' },
      { name: 'Relay', description: 'API key in Authorization (Bearer sk-...) or in mj-api-secret' },
      { name: 'Relay (mode prefix)', description: 'The same routes under a speed mode prefix' },
    ],
    paths: {
      '/api/mj/self': { get: listing(false) },
      '/api/mj/': { get: listing(true) },
      '/api/status': {
        get: {
          tags: ['Management'],
          operationId: 'status',
          summary: 'Version, server address and public options',
          security: [],
          responses: { 200: json('StatusEnvelope', 'The status') },
        },
      },
      '/healthz': {
        get: {
          tags: ['Management'],
          operationId: 'health',
          summary: 'Liveness: ok once the database is open and migrated',
          security: [],
          responses: {
            200: { description: 'Healthy', content: { 'text/plain': { schema: { type: 'string', const: 'ok' } } } },
          },
        },
      },
      ...relayPaths('/mj', false),
      ...relayPaths('/{mode}/mj', true),
      '/mj/notify/{channel}/{secret}': { post: NOTIFY_OPERATION },
    },
    components: {
      schemas: Object.fromEntries(
        Object.entries(DOCUMENTED_SCHEMAS).map(([name, { schema, io }]) => [name, jsonSchemaOf(schema, io)]),
      ),
      securitySchemes: {
        managementToken: { type: 'http', scheme: 'bearer', description: "The user's access token (management API)" },
        managementUser: {
          type: 'apiKey',
          in: 'header',
          name: 'New-Api-User',
          description: 'The user id the access token belongs to',
        },
        relayKey: { type: 'http', scheme: 'bearer', description: 'An API key (sk-...) of the relay' },
        relaySecret: {
          type: 'apiKey',
          in: 'header',
          name: 'mj-api-secret',
          description: 'The API key, read when Authorization is empty or "midjourney-proxy"',
        },
      },
    },
  };
}
