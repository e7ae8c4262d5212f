import {
  apiKeyMatches,
  apiKeyPrefix,
  generateApiKey,
  hashApiKey,
  SCOPES,
  type Scope,
} from '../domain/api-keys.ts';
import { uuidv7 } from '../domain/ids.ts';
import { ErrorCodes, HeraldError } from '../errors.ts';
import type { ApiKeyStore, StoredApiKey } from '../ports/api-key-store.ts';

export interface Principal {
  keyId: string;
  name: string;
  scopes: readonly string[];
}

// A verified key is trusted this long without asking the database again: the hot ingest path
// must not pay a query per request. Revocation therefore takes effect within this time.
const CACHE_TTL_MS = 30_000;
const CACHE_MAX = 10_000;

/**
 * Issuing, listing, revoking and checking API keys. A key is shown once, when created.
 *
 * @example
 * const { key } = await keys.create('ingest from the shop', ['events:write']);
 * await keys.verify(key); // → { keyId, name, scopes: ['events:write'] }
 */
export class ApiKeyService {
  readonly #store: ApiKeyStore;
  readonly #adminKeyHash: string | undefined;
  readonly #cache = new Map<string, { principal: Principal | undefined; until: number }>();

  constructor(store: ApiKeyStore, options: { adminKey?: string | undefined } = {}) {
    this.#store = store;
    this.#adminKeyHash = options.adminKey === undefined ? undefined : hashApiKey(options.adminKey);
  }

  async create(
    name: string,
    scopes: readonly string[],
  ): Promise<{ key: string; record: StoredApiKey }> {
    const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (scopes.length === 0 || unknown.length > 0) {
      throw new HeraldError(ErrorCodes.VALIDATION, `scopes must be some of ${SCOPES.join(', ')}`, {
        details: { field: 'scopes', unknown },
      });
    }
    const generated = generateApiKey();
    const id = uuidv7();
    await this.#store.insert({
      id,
      prefix: generated.prefix,
      keyHash: generated.hash,
      name,
      scopes: [...scopes],
    });
    const record = await this.#store.findByPrefix(generated.prefix);
    if (record === undefined) throw new Error('API key vanished after insert');
    return { key: generated.key, record };
  }

  list(): Promise<StoredApiKey[]> {
    return this.#store.list();
  }

  async revoke(id: string): Promise<boolean> {
    const revoked = await this.#store.revoke(id);
    this.#cache.clear();
    return revoked;
  }

  /** The principal a presented key stands for, or undefined for a wrong or revoked key. */
  async verify(key: string): Promise<Principal | undefined> {
    if (this.#adminKeyHash !== undefined && apiKeyMatches(key, this.#adminKeyHash)) {
      return { keyId: 'admin-api-key', name: 'ADMIN_API_KEY', scopes: ['admin'] };
    }
    const cached = this.#cache.get(key);
    if (cached !== undefined && cached.until > Date.now()) return cached.principal;
    const principal = await this.#lookup(key);
    if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
    this.#cache.set(key, { principal, until: Date.now() + CACHE_TTL_MS });
    return principal;
  }

  async #lookup(key: string): Promise<Principal | undefined> {
    const prefix = apiKeyPrefix(key);
    if (prefix === undefined) return undefined;
    const stored = await this.#store.findByPrefix(prefix);
    if (stored === undefined || stored.revokedAt !== null || !apiKeyMatches(key, stored.keyHash)) {
      return undefined;
    }
    this.#store.touch(stored.id).catch(() => {});
    return { keyId: stored.id, name: stored.name, scopes: stored.scopes };
  }
}

export type { Scope };
