import { describe, expect, test } from 'bun:test';
import { nextRequestId, requestIdOf } from '../../src/http/request-id.ts';
import { createMetrics } from '../../src/lib/metrics.ts';

describe('request ids', () => {
  test('12 alphanumerics, distinct, and one per request', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const id = nextRequestId();
      expect(id).toMatch(/^[A-Za-z0-9]{12}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(20_000);
    const req = new Request('http://localhost/x');
    expect(requestIdOf(req)).toBe(requestIdOf(req));
    expect(requestIdOf(req)).not.toBe(requestIdOf(new Request('http://localhost/x')));
  });
});

describe('the request counter', () => {
  const line = (text: string, labels: string) =>
    text.split('\n').find((l) => l.startsWith(`mjgw_http_requests_total{${labels}}`));

  test('counts each label set exactly, across scrapes', async () => {
    const m = createMetrics();
    for (let i = 0; i < 3; i++) m.httpRequest('GET', '/api/mj/self', 200);
    m.httpRequest('GET', '/api/mj/self', 401);
    m.httpRequest('POST', '/mj/submit/imagine', 200);
    let text = await m.registry.metrics();
    expect(line(text, 'method="GET",route="/api/mj/self",status="200"')).toBe(
      'mjgw_http_requests_total{method="GET",route="/api/mj/self",status="200"} 3',
    );
    expect(line(text, 'method="GET",route="/api/mj/self",status="401"')).toBe(
      'mjgw_http_requests_total{method="GET",route="/api/mj/self",status="401"} 1',
    );
    expect(line(text, 'method="POST",route="/mj/submit/imagine",status="200"')).toBe(
      'mjgw_http_requests_total{method="POST",route="/mj/submit/imagine",status="200"} 1',
    );
    // A second scrape neither loses nor repeats what the first one reported.
    m.httpRequest('GET', '/api/mj/self', 200);
    text = await m.registry.metrics();
    expect(line(text, 'method="GET",route="/api/mj/self",status="200"')).toBe(
      'mjgw_http_requests_total{method="GET",route="/api/mj/self",status="200"} 4',
    );
    text = await m.registry.metrics();
    expect(line(text, 'method="GET",route="/api/mj/self",status="401"')).toBe(
      'mjgw_http_requests_total{method="GET",route="/api/mj/self",status="401"} 1',
    );
  });
});

describe('submit outcome labels', () => {
  test('an upstream cannot mint a series per answer: odd numeric codes share one label', async () => {
    const m = createMetrics();
    for (const code of [1, 24, 502, 2147483648, 1e20, -1, 1.5, 12345]) m.submitOutcome('IMAGINE', code);
    m.submitOutcome('IMAGINE', 'quota_not_enough');
    const text = await m.registry.metrics();
    const codes = [...text.matchAll(/mjgw_submit_outcomes_total\{action="IMAGINE",code="([^"]+)"\} (\d+)/g)].map(
      (x) => `${x[1]}=${x[2]}`,
    );
    expect(codes.sort()).toEqual(['1=1', '24=1', '502=1', 'other=5', 'quota_not_enough=1'].sort());
  });
});
