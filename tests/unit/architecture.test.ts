import { describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Module boundaries of ARCHITECTURE.md, checked by scanning import lines. */
const SRC = join(import.meta.dir, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const all = files(SRC).map((p) => ({ path: relative(SRC, p), text: readFileSync(p, 'utf8') }));

function folderOf(rel: string): string {
  return rel.includes('/') ? rel.split('/')[0]! : rel.replace(/\.ts$/, '');
}

function importsOf(text: string): string[] {
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

/** Which top-level src/ folders each folder may import (besides itself). */
const ALLOWED: Record<string, string[]> = {
  lib: [],
  contract: ['lib'],
  db: ['contract', 'lib'],
  domain: ['contract', 'db', 'upstream', 'lib'],
  auth: ['contract', 'domain', 'db', 'lib'],
  upstream: ['lib'],
  trpc: ['contract', 'domain', 'auth', 'db', 'lib', 'deps', 'config'],
  http: ['contract', 'trpc', 'domain', 'auth', 'upstream', 'images', 'db', 'lib', 'deps', 'config'],
  images: ['contract', 'db', 'upstream', 'lib'],
  jobs: ['contract', 'domain', 'upstream', 'db', 'lib', 'deps', 'config'],
  simulator: ['lib', 'config'],
};

const PACKAGES_FORBIDDEN_IN: Record<string, RegExp> = {
  domain: /^(elysia|@trpc\/)/,
  lib: /^(elysia|@trpc\/|drizzle-orm)/,
  db: /^(elysia|@trpc\/)/,
  auth: /^(elysia|@trpc\/)/,
};

describe('architecture', () => {
  test('the scanner sees import lines (so the checks below are not vacuous)', () => {
    const rateLimit = all.find((f) => f.path === 'domain/rate-limit.ts')!;
    expect(importsOf(rateLimit.text)).toContain('../contract/tasks.ts');
    expect(folderOf('domain/rate-limit.ts')).toBe('domain');
  });

  test('folders import only what ARCHITECTURE.md allows', () => {
    const violations: string[] = [];
    for (const f of all) {
      const from = folderOf(f.path);
      const allowed = ALLOWED[from];
      for (const spec of importsOf(f.text)) {
        if (spec.startsWith('.')) {
          const target = relative(SRC, join(SRC, f.path, '..', spec));
          if (target.startsWith('..')) continue; // package.json and other files outside src
          const to = folderOf(target);
          if (allowed && to !== from && !allowed.includes(to)) violations.push(`${f.path} imports ${spec}`);
        } else if (PACKAGES_FORBIDDEN_IN[from]?.test(spec)) {
          violations.push(`${f.path} imports package ${spec}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  test('only src/config.ts reads the environment', () => {
    const readers = all.filter((f) => /process\.env|Bun\.env|import\.meta\.env/.test(f.text)).map((f) => f.path);
    expect(readers).toEqual(['config.ts']);
  });

  test('no file grows past 400 lines', () => {
    const long = all.filter((f) => f.text.split('\n').length > 400).map((f) => f.path);
    expect(long).toEqual([]);
  });
});
