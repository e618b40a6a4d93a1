/**
 * An EventSource over fetch that can send request headers. The browser's EventSource cannot, so
 * tRPC's httpSubscriptionLink would have to put the access token in the URL (connectionParams);
 * with this class the subscription authenticates with the same `Authorization` and
 * `New-Api-User` headers as every other call, and the token never appears in a URL. Also the
 * EventSource of runtimes that have none (Bun, for tests). It follows the parts of the
 * EventSource contract tRPC uses: readyState, named events, lastEventId, `error` then automatic
 * reconnect (with `Last-Event-ID`), close().
 */

export interface FetchEventSourceInit {
  headers?: Record<string, string>;
  /** Milliseconds before reconnecting, unless the server sends `retry:`. */
  retryMs?: number;
  fetch?: typeof fetch;
}

export class FetchEventSource extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSED = 2;
  readonly url: string;
  readonly withCredentials = false;
  readyState = 0;
  private lastEventId = '';
  private retryMs: number;
  private controller: AbortController | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    url: string | URL,
    private readonly init: FetchEventSourceInit = {},
  ) {
    super();
    this.url = String(url);
    this.retryMs = init.retryMs ?? 1000;
    void this.connect();
  }

  close(): void {
    this.readyState = 2;
    if (this.timer) clearTimeout(this.timer);
    this.controller?.abort();
  }

  private async connect(): Promise<void> {
    const controller = (this.controller = new AbortController());
    const headers: Record<string, string> = { accept: 'text/event-stream', ...this.init.headers };
    if (this.lastEventId) headers['last-event-id'] = this.lastEventId;
    let res: Response;
    try {
      res = await (this.init.fetch ?? fetch)(this.url, { headers, signal: controller.signal, cache: 'no-store' });
    } catch {
      return this.retry();
    }
    if (!res.ok || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream') || !res.body) {
      // Like EventSource: an answer that is not an event stream fails the connection for good.
      this.readyState = 2;
      void res.body?.cancel();
      this.dispatchEvent(new Event('error'));
      return;
    }
    this.readyState = 1;
    this.dispatchEvent(new Event('open'));
    try {
      await this.read(res.body);
    } catch {
      // A dropped connection: reconnect below.
    }
    this.retry();
  }

  private retry(): void {
    if (this.readyState === 2) return;
    this.readyState = 0;
    this.dispatchEvent(new Event('error'));
    if (this.readyState === 2) return;
    this.timer = setTimeout(() => void this.connect(), this.retryMs);
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let data: string[] = [];
    let type = '';
    let id: string | null = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done || this.readyState === 2) return;
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
        if (line === '') {
          if (id !== null) this.lastEventId = id;
          if (data.length) {
            this.dispatchEvent(
              new MessageEvent(type || 'message', { data: data.join('\n'), lastEventId: this.lastEventId }),
            );
          }
          data = [];
          type = '';
          id = null;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') data.push(val);
        else if (field === 'event') type = val;
        else if (field === 'id' && !val.includes('\0')) id = val;
        else if (field === 'retry' && /^\d+$/.test(val)) this.retryMs = Number(val);
      }
    }
  }
}
