/**
 * The practical ceiling of `GET /api/mj/self` (SPEC §12): Bun.serve + prepared bun:sqlite
 * statements, the same access-token + New-Api-User authentication, one page read and the total
 * from task_counters. With `naive` the total is a COUNT(*) per request, as the reference gateway
 * does. Usage: bun raw-listing.ts <database> <counters|naive>
 */
import { Database } from 'bun:sqlite';
// The same page answer as the product: `buttons` read whole from its compact form (SQLite).
import { BUTTONS_SQL } from '../../../src/db/sqlite/button-sets.ts';

const [path, mode = 'counters'] = process.argv.slice(2);
if (!path || (mode !== 'counters' && mode !== 'naive')) {
  console.error('usage: raw-listing.ts <database> <counters|naive>');
  process.exit(2);
}

const db = new Database(path, { strict: true });
db.exec('PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;');

interface Row {
  id: number;
  mj_id: string;
  action: string;
  prompt: string;
  prompt_en: string;
  status: string;
  progress: string;
  image_url: string;
  video_url: string;
  video_urls: string;
  submit_time: number;
  start_time: number;
  finish_time: number;
  fail_reason: string;
  quota: number;
  code: number;
  description: string;
  state: string;
  buttons: string;
  properties: string;
}

const userByToken = db.prepare<{ id: number; role: number; status: number }, [string]>(
  'SELECT id, role, status FROM users WHERE access_token = ?',
);
const page = db.prepare<
  Row,
  [number, number, number]
>(`SELECT id, mj_id, action, prompt, prompt_en, status, progress, image_url,
  video_url, video_urls, submit_time, start_time, finish_time, fail_reason, quota, code, description, state, ${BUTTONS_SQL} AS buttons, properties
  FROM tasks WHERE user_id = ? ORDER BY id DESC LIMIT ? OFFSET ?`);
const counted =
  mode === 'naive'
    ? db.prepare<{ n: number }, [number]>('SELECT count(*) AS n FROM tasks WHERE user_id = ?')
    : db.prepare<{ n: number }, [number]>(`SELECT count AS n FROM task_counters WHERE scope = 'user' AND scope_id = ?`);

const fail = (status: number, message: string) => Response.json({ success: false, message }, { status });

const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  fetch(req) {
    const url = new URL(req.url);
    if (url.pathname !== '/api/mj/self') return new Response('not found', { status: 404 });
    const token = (req.headers.get('authorization') ?? '').replace(/^bearer\s+/i, '').trim();
    if (!token) return fail(401, 'Unauthorized, not logged in and no access token provided');
    const user = userByToken.get(token);
    if (!user) return fail(401, 'Unauthorized, invalid access token');
    const header = req.headers.get('new-api-user') ?? '';
    if (!/^\d+$/.test(header) || Number(header) !== user.id)
      return fail(401, 'Unauthorized, New-Api-User does not match logged in user');
    if (user.status !== 1) return fail(403, 'User has been banned');
    const p = Math.max(1, Number(url.searchParams.get('p') ?? 1) || 1);
    const size = Math.min(100, Math.max(1, Number(url.searchParams.get('page_size') ?? 20) || 20));
    const total = counted.get(user.id)?.n ?? 0;
    const base = `http://${url.host}`;
    const items = page
      .all(user.id, size, (p - 1) * size)
      .map((r) => ({ ...r, image_url: r.image_url ? `${base}/mj/image/${r.mj_id}` : '' }));
    return Response.json({ success: true, message: '', data: { items, total, page: p, page_size: size } });
  },
});
console.log(`raw listing (${mode}) listening on http://127.0.0.1:${server.port}`);
