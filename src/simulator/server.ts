import { systemClock } from '../lib/clock.ts';
import { silentLogger } from '../lib/logger.ts';
import { MediaServer } from './images.ts';
import { successStep, toView } from './lifecycle.ts';
import { Notifier } from './notify.ts';
import { fetchTask, imageSeed, listByCondition, listLatest } from './queries.ts';
import { asBody, type Body, parseFlags, refuse, type SubmitContext } from './submit-common.ts';
import {
  submitBlend,
  submitDescribe,
  submitEdits,
  submitImagine,
  submitShorten,
  submitSwap,
  submitUpload,
  submitVideo,
} from './submit-create.ts';
import { submitAction, submitChange, submitModal, submitSimpleChange } from './submit-followup.ts';
import { TaskFile } from './task-file.ts';
import { TaskStore } from './task-store.ts';
import {
  type JsonAnswer,
  SIM_FAULTS,
  type SimFault,
  type SimRequest,
  type Simulator,
  type SimulatorOptions,
} from './types.ts';

type SubmitHandler = (body: Body, ctx: SubmitContext) => JsonAnswer;

const SUBMITS = new Map<string, SubmitHandler>([
  ['/submit/imagine', submitImagine],
  ['/submit/change', submitChange],
  ['/submit/simple-change', submitSimpleChange],
  ['/submit/describe', submitDescribe],
  ['/submit/blend', submitBlend],
  ['/submit/action', submitAction],
  ['/submit/modal', submitModal],
  ['/submit/shorten', submitShorten],
  ['/submit/video', submitVideo],
  ['/submit/edits', submitEdits],
  ['/submit/edit', submitEdits],
  ['/submit/upload-discord-images', submitUpload],
  ['/insight-face/swap', submitSwap],
]);

/** `/mj/...` or `/<mode>/mj/...` (e.g. /mj-fast/mj/submit/imagine); group 1 is the part after /mj. */
const MJ_ROUTE = /^(?:\/[^/]+)?\/mj(\/.*)$/;
/** Requests kept for tests; when full, the older half is dropped (bounded for benchmarks). */
const REQUEST_LOG_LIMIT = 20000;

function json(answer: JsonAnswer): Response {
  return Response.json(answer.body, { status: answer.status });
}

/**
 * A response that makes Bun close the connection before writing anything: the body stream errors
 * at start. Erroring with `undefined` (not an Error) keeps Bun from printing a stack trace.
 */
function dropConnection(): Response {
  return new Response(
    new ReadableStream({
      start(controller) {
        controller.error(undefined);
      },
    }),
  );
}

/** Answers a whole-server fault, or null when serving normally. */
function faultResponse(fault: SimFault, path: string): Response | null {
  switch (fault) {
    case 'http500':
      return Response.json(
        { timestamp: new Date().toISOString(), status: 500, error: 'Internal Server Error', path },
        { status: 500 },
      );
    case 'garbage':
      return new Response('<html>oops', { status: 200, headers: { 'Content-Type': 'application/json' } });
    case 'drop':
      return dropConnection();
    default:
      return null;
  }
}

async function readBody(req: Request): Promise<{ body: unknown; invalid: boolean }> {
  if (req.method === 'GET' || req.method === 'HEAD') return { body: null, invalid: false };
  const text = await req.text();
  if (text.trim() === '') return { body: null, invalid: false };
  try {
    return { body: JSON.parse(text) as unknown, invalid: false };
  } catch {
    return { body: text, invalid: true };
  }
}

/**
 * Starts a midjourney-proxy (Plus contract) simulator on Bun.serve. Task state is derived from
 * the clock on every read, so there are no per-task timers and a ManualClock drives it exactly.
 */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const clock = opts.clock ?? systemClock;
  const stepMs = opts.stepMs ?? 1000;
  const slowMs = opts.slowMs ?? 65000;
  const logger = (opts.logger ?? silentLogger).child({ component: 'simulator' });
  const hostname = opts.hostname ?? '127.0.0.1';
  const secret = opts.secret;
  const file = opts.taskFile ? new TaskFile(opts.taskFile) : null;
  const store = new TaskStore(
    clock,
    opts.maxTasks ?? 200_000,
    (action) => successStep(action) * Math.max(0, stepMs),
    file,
  );
  const media = new MediaServer(store, opts.imageSize ?? 256);
  // A ManualClock moves without timers, so the push re-checks on a short real-time beat then.
  const notifier =
    opts.notify === false
      ? null
      : new Notifier(
          clock,
          stepMs,
          (task) => toView(task, clock.now(), stepMs, base),
          logger,
          undefined,
          clock === systemClock ? null : 50,
        );
  if (notifier) store.onSaved = (task) => notifier.watch(task);
  const requests: SimRequest[] = [];
  const pendingSlow = new Set<{ timer: ReturnType<typeof setTimeout>; resolve: (done: boolean) => void }>();
  let fault: SimFault = 'none';
  let base = '';
  const ctx: SubmitContext = {
    store,
    stepMs,
    now: () => clock.now(),
    get base() {
      return base;
    },
  };

  function setFault(next: SimFault): void {
    if (next === 'forget') {
      logger.info('forgetting all tasks', { count: store.size });
      store.clear();
      notifier?.clear();
      media.clear();
      fault = 'none';
      return;
    }
    fault = next;
    logger.info('fault set', { fault });
  }

  /** Resolves true after slowMs, or false if stop() cancelled the wait. */
  function slowWait(): Promise<boolean> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          pendingSlow.delete(entry);
          resolve(true);
        }, slowMs),
        resolve,
      };
      pendingSlow.add(entry);
    });
  }

  function route(method: string, sub: string, body: unknown): JsonAnswer {
    const submit = method === 'POST' ? SUBMITS.get(sub) : undefined;
    if (submit) return submit(asBody(body), ctx);
    const task = /^\/task\/([^/]+)\/(fetch|image-seed)$/.exec(sub);
    if (method === 'GET' && task?.[1] !== undefined) {
      const id = decodeURIComponent(task[1]);
      return task[2] === 'fetch' ? fetchTask(ctx, id) : imageSeed(ctx, id);
    }
    if (method === 'POST' && (sub === '/task/list-by-condition' || sub === '/task/list-by-ids'))
      return listByCondition(ctx, body);
    if (method === 'GET' && sub === '/task/list') return listLatest(ctx);
    return refuse(4, `No route for ${method} /mj${sub}`, 404);
  }

  async function handleMj(req: Request, server: Bun.Server<undefined>, path: string, sub: string): Promise<Response> {
    const { body, invalid } = await readBody(req);
    const given = req.headers.get('mj-api-secret');
    requests.push({ method: req.method, path, secret: given, body });
    if (requests.length >= REQUEST_LOG_LIMIT) requests.splice(0, REQUEST_LOG_LIMIT / 2);
    const broken = faultResponse(fault, path);
    if (broken) return broken;
    if (secret !== undefined && secret !== '' && given !== secret) return new Response(null, { status: 401 });
    if (invalid) return json(refuse(4, 'Invalid JSON body', 400));
    if (req.method === 'POST' && SUBMITS.has(sub)) {
      const prompt = asBody(body).prompt;
      if (typeof prompt === 'string' && parseFlags(prompt).slow) {
        server.timeout(req, 0);
        if (!(await slowWait())) return dropConnection();
      }
    }
    return json(route(req.method, sub, body));
  }

  async function handle(req: Request, server: Bun.Server<undefined>): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname;
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    if (path.startsWith('/images/') && readOnly) return media.image(req, url, path.slice('/images/'.length));
    if (path.startsWith('/videos/') && readOnly) return media.video(req, path.slice('/videos/'.length));
    if (path === '/sim/health') return new Response('ok', { headers: { 'Content-Type': 'text/plain' } });
    if (path === '/sim/fault') {
      if (req.method === 'GET') return Response.json({ fault });
      const wanted = asBody((await readBody(req)).body).fault;
      const next = SIM_FAULTS.find((f) => f === wanted);
      if (req.method !== 'POST' || next === undefined)
        return Response.json({ error: `fault must be one of ${SIM_FAULTS.join(', ')}` }, { status: 400 });
      setFault(next);
      return Response.json({ fault });
    }
    const mj = MJ_ROUTE.exec(path);
    if (mj?.[1] !== undefined) return handleMj(req, server, path, mj[1]);
    return new Response('not found', { status: 404, headers: { 'Content-Type': 'text/plain' } });
  }

  let server: Bun.Server<undefined>;
  try {
    server = Bun.serve({
      port: opts.port ?? 0,
      hostname,
      // A fixed port (DEMO) must be ours alone: a busy one is an error the caller handles.
      reusePort: false,
      idleTimeout: 120,
      fetch: handle,
      error(err) {
        logger.error('simulator handler failed', { err });
        return Response.json(
          { code: 9, description: 'simulator internal error', result: null, properties: {} },
          { status: 500 },
        );
      },
    });
  } catch (err) {
    file?.close();
    throw err;
  }
  const port = server.port ?? 0;
  base = `http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`;
  notifier?.resume(store.latest(store.size));
  logger.info('simulator listening', {
    url: base,
    stepMs,
    auth: secret ? 'mj-api-secret required' : 'open',
    notify: notifier !== null,
  });

  return {
    url: base,
    port,
    requests,
    clearRequests: () => {
      requests.length = 0;
    },
    setFault,
    taskCount: () => store.size,
    async stop() {
      for (const entry of pendingSlow) {
        clearTimeout(entry.timer);
        entry.resolve(false);
      }
      pendingSlow.clear();
      notifier?.stop();
      await server.stop(true);
      file?.close();
      logger.info('simulator stopped', { url: base });
    },
  };
}
