import { describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Module boundaries of ARCHITECTURE.md, checked by scanning import lines. */
const SRC = join(import.meta.dir, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : /\.tsx?$/.test(p) ? [p] : [];
  });
}

const all = files(SRC).map((p) => ({ path: relative(SRC, p), text: readFileSync(p, 'utf8') }));

function folderOf(rel: string): string {
  return rel.includes('/') ? rel.split('/')[0]! : rel.replace(/\.tsx?$/, '');
}

/** Every module a file names: `import … from`, `export … from`, a bare `import '…'`, `import('…')` and `new URL('…', import.meta.url)`. */
function importsOf(text: string): string[] {
  const patterns = [
    /^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\bnew URL\(\s*['"](\.[^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g,
  ];
  return patterns.flatMap((re) => [...text.matchAll(re)].map((m) => m[1]!));
}

/**
 * Which top-level src/ folders each folder may import (besides itself). The storage contract
 * (src/contract) sits between the domain and the database adapters: the domain and the adapters
 * both import it, the domain imports no adapter and the adapters no domain; only the wiring
 * (src/backend.ts, src/index.ts) knows both.
 */
const ALLOWED: Record<string, string[]> = {
  lib: [],
  contract: ['lib'],
  db: ['contract', 'lib'],
  domain: ['contract', 'upstream', 'lib'],
  auth: ['contract', 'domain', 'lib'],
  upstream: ['lib'],
  trpc: ['contract', 'domain', 'auth', 'lib', 'deps', 'config'],
  http: ['contract', 'trpc', 'domain', 'auth', 'upstream', 'images', 'lib', 'deps', 'config'],
  images: ['contract', 'upstream', 'lib'],
  jobs: ['contract', 'domain', 'upstream', 'lib', 'deps', 'config'],
  simulator: ['lib', 'config'],
  web: ['trpc', 'lib'],
};

/** Packages a folder may not import: the contract none at all, the domain no framework and no driver or ORM. */
const PACKAGES_FORBIDDEN_IN: Record<string, RegExp> = {
  contract: /./,
  domain: /^(elysia|@trpc\/|drizzle-orm|drizzle-kit|postgres$|bun:sqlite)/,
  lib: /^(elysia|@trpc\/|drizzle-orm)/,
  db: /^(elysia|@trpc\/)/,
  auth: /^(elysia|@trpc\/|drizzle-orm|postgres$|bun:sqlite)/,
};

describe('architecture', () => {
  test('the scanner sees import lines (so the checks below are not vacuous)', () => {
    const rateLimit = all.find((f) => f.path === 'domain/rate-limit.ts')!;
    expect(importsOf(rateLimit.text)).toContain('../contract/tasks.ts');
    expect(folderOf('domain/rate-limit.ts')).toBe('domain');
    expect(all.some((f) => f.path === 'web/dashboard.tsx')).toBe(true);
    expect(
      importsOf("const u = new URL('./x.ts', import.meta.url);\nawait import('./y.ts');\nimport './z.ts';"),
    ).toEqual(['./z.ts', './y.ts', './x.ts']);
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

  test('the storage layering holds whatever ALLOWED says: domain ↛ db, db ↛ domain, http ↛ web, contract ↛ any other folder', () => {
    const forbidden: Array<[from: string, to: string]> = [
      ['domain', 'db'],
      ['db', 'domain'],
      ['http', 'web'],
      ['contract', 'domain'],
      ['contract', 'db'],
    ];
    for (const [from, to] of forbidden)
      expect(`${from} → ${to}: ${ALLOWED[from]!.includes(to)}`).toBe(`${from} → ${to}: false`);
    expect(PACKAGES_FORBIDDEN_IN.domain!.test('drizzle-orm')).toBe(true);
    expect(PACKAGES_FORBIDDEN_IN.domain!.test('drizzle-orm/sqlite-core')).toBe(true);
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
