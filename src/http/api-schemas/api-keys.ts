/**
 * The API's JSON for API keys (see common.ts): a key as listed (never the key itself), and
 * what creating one takes and answers (the key, once).
 */
import { SCOPES } from '../../domain/api-keys.ts';
import type { StoredApiKey } from '../../ports/api-key-store.ts';

const keyJson = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    prefix: { type: 'string' },
    name: { type: 'string' },
    scopes: { type: 'array', items: { type: 'string' } },
    created_at: { type: 'string' },
    last_used_at: { type: ['string', 'null'] },
    revoked_at: { type: ['string', 'null'] },
  },
} as const;

/** A key as `keyJson` describes it. */
export function apiKeyJson(key: StoredApiKey) {
  return {
    id: key.id,
    prefix: key.prefix,
    name: key.name,
    scopes: key.scopes,
    created_at: key.createdAt,
    last_used_at: key.lastUsedAt,
    revoked_at: key.revokedAt,
  };
}

export const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'scopes'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    scopes: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', enum: [...SCOPES] },
    },
  },
} as const;

export const createdResponse = {
  ...keyJson,
  properties: { ...keyJson.properties, key: { type: 'string' } },
} as const;

export const listResponse = {
  type: 'object',
  properties: { keys: { type: 'array', items: keyJson } },
} as const;

export const keyParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;
