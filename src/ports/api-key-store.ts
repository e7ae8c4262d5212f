export interface StoredApiKey {
  id: string;
  prefix: string;
  keyHash: string;
  name: string;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** Where API keys are kept (hashed). */
export interface ApiKeyStore {
  insert(key: {
    id: string;
    prefix: string;
    keyHash: string;
    name: string;
    scopes: string[];
  }): Promise<void>;
  findByPrefix(prefix: string): Promise<StoredApiKey | undefined>;
  list(): Promise<StoredApiKey[]>;
  /** False when there is no such key or it was already revoked. */
  revoke(id: string): Promise<boolean>;
  touch(id: string): Promise<void>;
}
