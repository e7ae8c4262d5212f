import type { ApiKeyStore, StoredApiKey } from '../../../ports/api-key-store.ts';
import type { Database } from '../../../ports/database.ts';

const columns = 'id, prefix, key_hash, name, scopes, created_at, last_used_at, revoked_at';

const sql = {
  insert:
    'INSERT INTO api_keys (id, prefix, key_hash, name, scopes) VALUES ($1, $2, $3, $4, $5::text[])',
  findByPrefix: `SELECT ${columns} FROM api_keys WHERE prefix = $1`,
  list: `SELECT ${columns} FROM api_keys ORDER BY created_at DESC`,
  revoke:
    'UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id',
  touch: 'UPDATE api_keys SET last_used_at = now() WHERE id = $1',
};

interface Row {
  id: string;
  prefix: string;
  key_hash: string;
  name: string;
  scopes: string[];
  created_at: Date | string;
  last_used_at: Date | string | null;
  revoked_at: Date | string | null;
}

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

function toKey(row: Row): StoredApiKey {
  return {
    id: row.id,
    prefix: row.prefix,
    keyHash: row.key_hash,
    name: row.name,
    scopes: row.scopes,
    createdAt: iso(row.created_at) ?? '',
    lastUsedAt: iso(row.last_used_at),
    revokedAt: iso(row.revoked_at),
  };
}

export class PostgresApiKeyStore implements ApiKeyStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async insert(key: {
    id: string;
    prefix: string;
    keyHash: string;
    name: string;
    scopes: string[];
  }) {
    await this.#db.query(sql.insert, [key.id, key.prefix, key.keyHash, key.name, key.scopes]);
  }

  async findByPrefix(prefix: string) {
    const [row] = await this.#db.query<Row>(sql.findByPrefix, [prefix]);
    return row === undefined ? undefined : toKey(row);
  }

  async list() {
    return (await this.#db.query<Row>(sql.list)).map(toKey);
  }

  async revoke(id: string) {
    return (await this.#db.query(sql.revoke, [id])).length > 0;
  }

  async touch(id: string) {
    await this.#db.query(sql.touch, [id]);
  }
}
