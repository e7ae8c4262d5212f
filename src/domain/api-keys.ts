/**
 * API keys: `hk_<prefix>_<secret>`. The prefix (public, 12 characters) finds the key's row;
 * the whole key is checked against its SHA-256, so the database never holds a usable key.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCOPES = ['events:write', 'analytics:read', 'metrics:read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

const KEY_PATTERN = /^hk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export interface GeneratedKey {
  key: string;
  prefix: string;
  hash: string;
}

export function generateApiKey(): GeneratedKey {
  const prefix = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 12);
  const key = `hk_${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, hash: hashApiKey(key) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The lookup prefix of a well-formed key, or undefined. */
export function apiKeyPrefix(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1];
}

/** Compares a presented key with a stored hash in constant time. */
export function apiKeyMatches(key: string, storedHash: string): boolean {
  const presented = Buffer.from(hashApiKey(key), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** `admin` grants every scope. */
export function grants(scopes: readonly string[], needed: Scope): boolean {
  return scopes.includes('admin') || scopes.includes(needed);
}
