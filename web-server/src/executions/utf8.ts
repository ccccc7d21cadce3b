/** UTF-8 helpers for log slices: never split a character at either end. Pure. */

/** Number of bytes at the end of `buf` that start an incomplete UTF-8 sequence (0 when complete). */
export function incompleteTail(buf: Buffer): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = buf[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = (b & 0xe0) === 0xc0 ? 2 : (b & 0xf0) === 0xe0 ? 3 : (b & 0xf8) === 0xf0 ? 4 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

/** Number of continuation bytes at the start of `buf` (a slice that began mid-character). */
export function leadingContinuation(buf: Buffer): number {
  let i = 0;
  while (i < buf.length && i < 3 && (buf[i]! & 0xc0) === 0x80) i++;
  return i;
}
