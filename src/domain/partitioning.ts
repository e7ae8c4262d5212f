/**
 * Key → partition, the way Kafka's default partitioner does it (murmur2 of the key's UTF-8
 * bytes, sign bit cleared, modulo the partition count), so every Herald transport sends a key
 * to the same partition number.
 */
export function partitionFor(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}

/** Kafka's murmur2 (seed 0x9747b28c), ported from org.apache.kafka.common.utils.Utils. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  const r = 24;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      ((data[i4] ?? 0) & 0xff) |
      (((data[i4 + 1] ?? 0) & 0xff) << 8) |
      (((data[i4 + 2] ?? 0) & 0xff) << 16) |
      (((data[i4 + 3] ?? 0) & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length4 * 4;
  // The tail bytes, folded in as Java's fall-through switch does.
  const rest = length % 4;
  if (rest === 3) h ^= ((data[tail + 2] ?? 0) & 0xff) << 16;
  if (rest >= 2) h ^= ((data[tail + 1] ?? 0) & 0xff) << 8;
  if (rest >= 1) {
    h ^= (data[tail] ?? 0) & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}
