import { deflateSync } from 'node:zlib';

/** The 8-byte PNG file signature. */
export const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const encoder = new TextEncoder();

function u32(out: Uint8Array, at: number, value: number): void {
  out[at] = (value >>> 24) & 0xff;
  out[at + 1] = (value >>> 16) & 0xff;
  out[at + 2] = (value >>> 8) & 0xff;
  out[at + 3] = value & 0xff;
}

/** One PNG chunk: length, type, data, CRC-32 over type + data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  u32(out, 0, data.length);
  out.set(encoder.encode(type), 4);
  out.set(data, 8);
  u32(out, 8 + data.length, Bun.hash.crc32(out.subarray(4, 8 + data.length)) >>> 0);
  return out;
}

function ihdr(width: number, height: number): Uint8Array {
  const data = new Uint8Array(13);
  u32(data, 0, width);
  u32(data, 4, height);
  data[8] = 8; // bit depth
  data[9] = 2; // colour type: truecolour RGB
  // compression, filter, interlace: 0
  return chunk('IHDR', data);
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Bun.concatArrayBuffers(parts));
}

/** Signature + IHDR only: the start of the filler "big" image the benchmark streams. */
export function pngHeader(width: number, height: number): Uint8Array {
  return concat([PNG_SIGNATURE, ihdr(width, height)]);
}

/**
 * Encodes 8-bit RGB pixels (row-major, 3 bytes a pixel) as a PNG. IDAT must be zlib-wrapped
 * deflate, which node:zlib's deflateSync produces (Bun.deflateSync gives raw deflate).
 */
export function encodePng(width: number, height: number, rgb: Uint8Array): Uint8Array<ArrayBuffer> {
  const stride = width * 3;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter: none
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const idat = new Uint8Array(deflateSync(raw, { level: 6 }));
  return concat([PNG_SIGNATURE, ihdr(width, height), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]);
}

/** How a generated picture is laid out. */
export type ImageLayout = 'grid' | 'single' | 'preview';

type Rgb = [number, number, number];

function hashBytes(text: string): Uint8Array {
  const h = new Bun.CryptoHasher('sha256');
  h.update(text);
  return new Uint8Array(h.digest());
}

function colourAt(bytes: Uint8Array, i: number): Rgb {
  return [bytes[i % bytes.length] ?? 0, bytes[(i + 1) % bytes.length] ?? 0, bytes[(i + 2) % bytes.length] ?? 0];
}

/** Pictures this wide or wider are full-size (SIM_IMAGE_SIZE=2048) and carry film grain. */
export const GRAIN_FROM_SIZE = 1024;
/** Grain amplitude (levels per channel): a 2048² grid then weighs ~6 MB as a PNG, as Midjourney's do. */
const GRAIN_LEVELS = 4;

/**
 * Draws a picture whose palette comes from a hash of the prompt and whose pattern comes from
 * `variant` (the task's job hash), so one prompt keeps its colours across variations.
 * 'grid' is 2x2 like a Midjourney job, 'single' one tile (upscales), 'preview' a coarse, dim grid.
 * Full-size finals (GRAIN_FROM_SIZE and up) get fine pseudo-random grain, seeded by the pattern:
 * a smooth gradient would compress to almost nothing, and a real result is several MB that a
 * resize has to decode whole.
 */
export function renderImage(
  prompt: string,
  variant: string,
  size: number,
  layout: ImageLayout,
): Uint8Array<ArrayBuffer> {
  const palette = hashBytes(`palette:${prompt}`);
  const pattern = hashBytes(`pattern:${variant}`);
  const rgb = new Uint8Array(size * size * 3);
  const half = Math.max(1, Math.floor(size / 2));
  const tiles = layout === 'single' ? 1 : 2;
  const tileSize = layout === 'single' ? size : half;
  const block = layout === 'preview' ? Math.max(1, Math.floor(size / 16)) : 1;
  const dim = layout === 'preview' ? 0.55 : 1;
  const gap = layout === 'single' ? 0 : Math.max(1, Math.floor(size / 128));
  const grain = layout !== 'preview' && size >= GRAIN_FROM_SIZE ? GRAIN_LEVELS : 0;
  // xorshift32, seeded by the pattern: the same task always draws the same grain.
  let seed = (((pattern[0] ?? 1) << 24) | ((pattern[1] ?? 2) << 16) | ((pattern[2] ?? 3) << 8) | 1) >>> 0;
  const noise = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return ((seed >>> 0) % grain) - (grain >> 1);
  };
  const shade = (v: number): number => {
    const c = Math.round(v * dim) + (grain ? noise() : 0);
    return Math.min(255, Math.max(0, c));
  };
  for (let ty = 0; ty < tiles; ty++) {
    for (let tx = 0; tx < tiles; tx++) {
      const q = ty * tiles + tx;
      const a = colourAt(palette, q * 6);
      const b = colourAt(palette, q * 6 + 3);
      const fx = 0.02 + ((pattern[q * 2] ?? 0) / 255) * 0.12;
      const fy = 0.02 + ((pattern[q * 2 + 1] ?? 0) / 255) * 0.12;
      // sin(x·fx + y·fy + q) = sin(x·fx)·cos(y·fy + q) + cos(x·fx)·sin(y·fy + q): two tables, no sin a pixel.
      const sinX = new Float64Array(tileSize);
      const cosX = new Float64Array(tileSize);
      for (let x = 0; x < tileSize; x++) {
        const sx = x - (x % block);
        sinX[x] = Math.sin(sx * fx);
        cosX[x] = Math.cos(sx * fx);
      }
      for (let y = 0; y < tileSize; y++) {
        const py = ty * tileSize + y;
        if (py >= size) break;
        const sy = y - (y % block);
        const sinY = Math.sin(sy * fy + q);
        const cosY = Math.cos(sy * fy + q);
        for (let x = 0; x < tileSize; x++) {
          const px = tx * tileSize + x;
          if (px >= size) break;
          const at = (py * size + px) * 3;
          if (x < gap || y < gap) {
            rgb[at] = rgb[at + 1] = rgb[at + 2] = 24;
            continue;
          }
          const sx = x - (x % block);
          const t = (sx + sy) / (2 * tileSize);
          const wave = 0.5 + 0.5 * ((sinX[x] ?? 0) * cosY + (cosX[x] ?? 0) * sinY);
          const mix = Math.min(1, Math.max(0, t * 0.7 + wave * 0.3));
          rgb[at] = shade(a[0] + (b[0] - a[0]) * mix);
          rgb[at + 1] = shade(a[1] + (b[1] - a[1]) * mix);
          rgb[at + 2] = shade(a[2] + (b[2] - a[2]) * mix);
        }
      }
    }
  }
  return encodePng(size, size, rgb);
}
