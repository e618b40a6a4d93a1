/**
 * The practical ceiling of a relay submit (SPEC §12): Bun.serve + prepared bun:sqlite statements
 * doing the same work as the gateway for `POST /mj/submit/imagine` — key lookup, one transaction
 * that charges (guarded by quota >= price) and records the task and its consume log, the forward
 * to the channel, and one transaction that records the upstream's answer.
 * Usage: bun raw-relay.ts <database>
 */
import { Database } from 'bun:sqlite';

const [path] = process.argv.slice(2);
if (!path) {
  console.error('usage: raw-relay.ts <database>');
  process.exit(2);
}

const db = new Database(path, { strict: true });
db.exec(
  'PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;',
);

const PRICE = 50_000; // 0.1 USD × 500000
const key = db.prepare<
  {
    id: number;
    user_id: number;
    status: number;
    remain_quota: number;
    unlimited_quota: number;
    expired_time: number;
    user_status: number;
  },
  [string]
>(
  `SELECT t.id, t.user_id, t.status, t.remain_quota, t.unlimited_quota, t.expired_time, u.status AS user_status
   FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.key = ?`,
);
const channel = db.prepare<{ id: number; base_url: string; key: string }, []>(
  'SELECT id, base_url, key FROM channels WHERE status = 1 ORDER BY priority DESC LIMIT 1',
);
const chargeUser = db.prepare<{ id: number }, [number, number, number, number]>(
  `UPDATE users SET quota = quota - ?, used_quota = used_quota + ?, request_count = request_count + 1 WHERE id = ? AND quota >= ? RETURNING id`,
);
const chargeToken = db.prepare<{ id: number }, [number, number, number, number]>(
  `UPDATE tokens SET remain_quota = remain_quota - ?, used_quota = used_quota + ? WHERE id = ? AND (unlimited_quota OR remain_quota >= ?) RETURNING id`,
);
const chargeChannel = db.prepare<unknown, [number, number]>(
  'UPDATE channels SET used_quota = used_quota + ? WHERE id = ?',
);
const insertTask = db.prepare<{ id: number }, [number, number, number, string, number, number, number]>(
  `INSERT INTO tasks (user_id, token_id, channel_id, action, mj_id, prompt, submit_time, progress, status, quota, updated_time)
   VALUES (?, ?, ?, 'IMAGINE', '', ?, ?, '0%', '', ?, ?) RETURNING id`,
);
const insertLog = db.prepare<unknown, [number, string, number, number, number, number, number]>(
  `INSERT INTO logs (user_id, type, content, quota, model_name, channel_id, token_id, mj_id, task_id, created_time)
   VALUES (?, 2, ?, ?, 'mj_imagine', ?, ?, '', ?, ?)`,
);
const settleTask = db.prepare<unknown, [string, number, string, string, number, number]>(
  `UPDATE tasks SET mj_id = ?, code = ?, description = ?, properties = ?, updated_time = ? WHERE id = ? AND progress <> '100%'`,
);
const settleLog = db.prepare<unknown, [string, number]>('UPDATE logs SET mj_id = ? WHERE task_id = ?');

const charge = db.transaction(
  (userId: number, tokenId: number, channelId: number, prompt: string, now: number): number | null => {
    if (!chargeUser.get(PRICE, PRICE, userId, PRICE)) return null;
    if (!chargeToken.get(PRICE, PRICE, tokenId, PRICE)) throw new Error('token quota');
    chargeChannel.run(PRICE, channelId);
    const task = insertTask.get(userId, tokenId, channelId, prompt, now, PRICE, now);
    if (!task) throw new Error('insert failed');
    insertLog.run(userId, `mj_imagine charged ${PRICE} for task ${task.id}`, PRICE, channelId, tokenId, task.id, now);
    return task.id;
  },
);
const settle = db.transaction(
  (taskId: number, mjId: string, code: number, description: string, properties: string, now: number) => {
    settleTask.run(mjId, code, description, properties, now, taskId);
    settleLog.run(mjId, taskId);
  },
);

const error = (status: number, code: string) =>
  Response.json({ error: { message: code, type: 'mj_gateway_error', code } }, { status });

const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  async fetch(req) {
    if (req.method !== 'POST' || new URL(req.url).pathname !== '/mj/submit/imagine')
      return new Response('not found', { status: 404 });
    const apiKey = (req.headers.get('authorization') ?? '')
      .replace(/^bearer\s+/i, '')
      .trim()
      .replace(/^sk-/, '');
    const k = apiKey ? key.get(apiKey) : null;
    if (!k) return error(401, 'invalid_api_key');
    if (k.status !== 1 || (k.expired_time !== -1 && k.expired_time < Date.now())) return error(401, 'token_disabled');
    if (k.user_status !== 1) return error(403, 'user_banned');
    const body = (await req.json()) as { prompt?: unknown };
    if (typeof body.prompt !== 'string' || !body.prompt)
      return Response.json(
        { code: 4, description: 'prompt is required', result: null, properties: {} },
        { status: 400 },
      );
    const ch = channel.get();
    if (!ch)
      return Response.json(
        { code: 3, description: 'no available channel', result: null, properties: {} },
        { status: 503 },
      );
    const taskId = charge(k.user_id, k.id, ch.id, body.prompt, Date.now());
    if (taskId === null)
      return Response.json({ code: 4, description: 'quota_not_enough', result: null, properties: {} }, { status: 400 });
    const res = await fetch(`${ch.base_url}/mj/submit/imagine`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'mj-api-secret': ch.key },
      body: JSON.stringify(body),
    });
    const answer = (await res.json()) as {
      code: number;
      description?: string;
      result?: unknown;
      properties?: Record<string, unknown>;
    };
    const props = answer.properties ?? {};
    settle(
      taskId,
      String(answer.result ?? ''),
      answer.code,
      answer.description ?? '',
      Object.keys(props).length ? JSON.stringify(props) : '',
      Date.now(),
    );
    return Response.json(
      { ...answer, code: answer.code === 22 || answer.code === 21 ? 1 : answer.code, properties: props },
      { status: res.status },
    );
  },
});
console.log(`raw relay listening on http://127.0.0.1:${server.port}`);
