import assert from 'node:assert/strict';
import { test } from 'node:test';
import { murmur2, partitionFor } from '../../src/domain/partitioning.ts';

// Values produced by org.apache.kafka.common.utils.Utils.murmur2 (Java client), as published
// with the Java-compatible partitioners of other Kafka clients.
const JAVA_MURMUR2: Record<string, number> = {
  '0': 971027396,
  '1': -1993445489,
  '128': -326012175,
  '2187': -1508407203,
  '16384': -325739742,
  '78125': -1654490814,
  '279936': 1462227128,
  '10000000': -1830336757,
  '100:48069': 1009543857,
};

test('murmur2 hashes keys exactly as the Kafka Java client does', () => {
  for (const [key, expected] of Object.entries(JAVA_MURMUR2)) {
    assert.equal(murmur2(Buffer.from(key)), expected, key);
  }
});

test('a key always maps to the same partition, within range', () => {
  for (let i = 0; i < 1000; i++) {
    const p = partitionFor(`user-${i}`, 12);
    assert.ok(p >= 0 && p < 12);
    assert.equal(partitionFor(`user-${i}`, 12), p);
  }
});

test('keys spread over all partitions', () => {
  const seen = new Set(Array.from({ length: 1000 }, (_, i) => partitionFor(`user-${i}`, 8)));
  assert.equal(seen.size, 8);
});
