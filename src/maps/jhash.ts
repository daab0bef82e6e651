/**
 * Bob Jenkins' lookup3 hash as the kernel's include/linux/jhash.h computes
 * it over a byte string (jhash), which 3.19's hash map uses to pick a
 * bucket: jhash(key, key_size, 0) & (n_buckets - 1). Words are read
 * little-endian, as on the x86 hosts the reference behaviour comes from.
 */

const JHASH_INITVAL = 0xdeadbeef;

const rol32 = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

/** jhash over `length` bytes of `bytes` starting at `offset`, with `initval`. Returns a u32. */
export function jhash(bytes: Uint8Array, offset: number, length: number, initval = 0): number {
  let a = (JHASH_INITVAL + length + initval) | 0;
  let b = a;
  let c = a;
  let k = offset;
  let n = length;
  const word = (p: number): number => bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16) | (bytes[p + 3]! << 24);
  while (n > 12) {
    a = (a + word(k)) | 0;
    b = (b + word(k + 4)) | 0;
    c = (c + word(k + 8)) | 0;
    // __jhash_mix
    a = (a - c) | 0; a ^= rol32(c, 4); c = (c + b) | 0;
    b = (b - a) | 0; b ^= rol32(a, 6); a = (a + c) | 0;
    c = (c - b) | 0; c ^= rol32(b, 8); b = (b + a) | 0;
    a = (a - c) | 0; a ^= rol32(c, 16); c = (c + b) | 0;
    b = (b - a) | 0; b ^= rol32(a, 19); a = (a + c) | 0;
    c = (c - b) | 0; c ^= rol32(b, 4); b = (b + a) | 0;
    n -= 12;
    k += 12;
  }
  if (n === 0) return c >>> 0;
  // The tail: up to 12 bytes added into c, b, a from the top byte down, as the kernel's fall-through switch.
  for (let i = n - 1; i >= 0; i--) {
    const v = bytes[k + i]! << ((i & 3) * 8);
    if (i >= 8) c = (c + v) | 0;
    else if (i >= 4) b = (b + v) | 0;
    else a = (a + v) | 0;
  }
  // __jhash_final
  c ^= b; c = (c - rol32(b, 14)) | 0;
  a ^= c; a = (a - rol32(c, 11)) | 0;
  b ^= a; b = (b - rol32(a, 25)) | 0;
  c ^= b; c = (c - rol32(b, 16)) | 0;
  a ^= c; a = (a - rol32(c, 4)) | 0;
  b ^= a; b = (b - rol32(a, 14)) | 0;
  c ^= b; c = (c - rol32(b, 24)) | 0;
  return c >>> 0;
}

/**
 * jhash of a 4-byte key, `word` its bytes read little-endian: the same
 * value as jhash(bytes, offset, 4, initval) (no mixing round, one word into
 * a), without the byte loop; the hash map's common key size.
 */
export function jhashWord(word: number, initval = 0): number {
  // a, b and c start equal; a takes the word. The sum is wrapped to 32 bits first, so that the
  // arithmetic below stays in int32 (JHASH_INITVAL + 4 alone is past 2^31, a double).
  const start = (JHASH_INITVAL + 4 + initval) | 0;
  let a = (start + word) | 0;
  let b = start;
  // __jhash_final's first line: c ^= b clears c (c === b), then c -= rol32(b, 14)
  let c = (0 - rol32(b, 14)) | 0;
  a ^= c; a = (a - rol32(c, 11)) | 0;
  b ^= a; b = (b - rol32(a, 25)) | 0;
  c ^= b; c = (c - rol32(b, 16)) | 0;
  a ^= c; a = (a - rol32(c, 4)) | 0;
  b ^= a; b = (b - rol32(a, 14)) | 0;
  c ^= b; c = (c - rol32(b, 24)) | 0;
  return c >>> 0;
}
