import type { Logger } from '../../observability/logger.ts';
import type { Database } from '../../ports/database.ts';
import {
  SCHEMAS_CHANNEL,
  type SchemaRegistryStore,
  type SchemaTypeRecord,
  type SchemaVersionRecord,
} from '../../ports/schema-registry.ts';
import type { ContractCompiler, ContractValidator } from './compiler.ts';

export interface CatalogEntry {
  type: SchemaTypeRecord;
  versions: ReadonlyMap<number, SchemaVersionRecord>;
}

export interface SchemaCatalogOptions {
  /** How often to ask the database whether the registry changed (SCHEMAS_POLL_MS). */
  pollMs: number;
}

/**
 * This process's view of the schema registry: every type's settings and versions in memory,
 * each version compiled once (the latest on load, older ones when first named) and shared by
 * the API's ingest check and the worker's contract stage.
 *
 * A change made by another process arrives by LISTEN/NOTIFY within milliseconds; a poll of the
 * registry's revision every `pollMs` catches what a lost notification (a dropped listening
 * connection) would miss. So a change is in force everywhere within `pollMs` plus one reload.
 */
export class SchemaCatalog {
  readonly #store: SchemaRegistryStore;
  readonly #logger: Logger;
  readonly #options: SchemaCatalogOptions;
  #entries = new Map<string, CatalogEntry>();
  readonly #validators = new Map<string, ContractValidator>();
  #compiler: ContractCompiler | undefined;
  #revision = -1;
  #refreshing: Promise<boolean> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #unlisten: (() => Promise<void>) | undefined;

  constructor(store: SchemaRegistryStore, logger: Logger, options: SchemaCatalogOptions) {
    this.#store = store;
    this.#logger = logger;
    this.#options = options;
  }

  /** The registry revision this view reflects (-1 before the first load). */
  get revision(): number {
    return this.#revision;
  }

  get types(): IterableIterator<CatalogEntry> {
    return this.#entries.values();
  }

  get size(): number {
    return this.#entries.size;
  }

  get(eventType: string): CatalogEntry | undefined {
    return this.#entries.get(eventType);
  }

  /** The compiled validator of a version this view has (compiled on first use). */
  validator(eventType: string, version: number): ContractValidator | undefined {
    const key = `${version}\u0000${eventType}`;
    const known = this.#validators.get(key);
    if (known !== undefined) return known;
    const record = this.#entries.get(eventType)?.versions.get(version);
    if (record === undefined || this.#compiler === undefined) return undefined;
    let validator: ContractValidator;
    try {
      validator = this.#compiler.compile(record.schema);
    } catch (error) {
      // Registered schemas compiled when they were registered; one that no longer does (an
      // upgrade of the validator) fails its events, which a quarantine keeps for replay.
      const reason = error instanceof Error ? error.message : String(error);
      this.#logger.error(
        { err: error, eventType, version },
        'a registered schema does not compile',
      );
      validator = uncompilable(
        `cannot be checked: v${version} of the schema does not compile (${reason})`,
      );
    }
    this.#validators.set(key, validator);
    return validator;
  }

  /** Loads what changed since the last look; true when anything did. Calls are serialized. */
  refresh(): Promise<boolean> {
    if (this.#refreshing !== undefined) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      let changed = false;
      try {
        do {
          this.#again = false;
          changed = (await this.#load()) || changed;
        } while (this.#again);
      } finally {
        this.#refreshing = undefined;
      }
      return changed;
    })();
    return this.#refreshing;
  }

  /** Follows changes: notifications from `db` (when given) and a poll. */
  async start(db: Pick<Database, 'listen'> | undefined): Promise<void> {
    const refresh = () =>
      void this.refresh().catch((error: unknown) =>
        this.#logger.warn({ err: error }, 'schema registry refresh failed; will retry'),
      );
    this.#unlisten = await db?.listen(SCHEMAS_CHANNEL, refresh);
    this.#timer = setInterval(refresh, this.#options.pollMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#unlisten?.();
    await this.#refreshing?.catch(() => {});
  }

  async #load(): Promise<boolean> {
    // Revision first: types read after it are at least that new, never older.
    const revision = await this.#store.revision();
    if (revision === this.#revision) return false;
    const types = await this.#store.types();
    const known = new Map<string, number>();
    for (const [eventType, entry] of this.#entries) {
      known.set(eventType, Math.max(0, ...entry.versions.keys()));
    }
    const added = await this.#store.versionsAfter(known);
    if (types.length > 0) this.#compiler ??= (await import('./compiler.ts')).contractCompiler();
    const entries = new Map<string, CatalogEntry>();
    for (const type of types) {
      const versions = new Map(this.#entries.get(type.eventType)?.versions ?? []);
      entries.set(type.eventType, { type, versions });
    }
    for (const version of added) {
      (entries.get(version.eventType)?.versions as Map<number, SchemaVersionRecord>)?.set(
        version.version,
        version,
      );
    }
    this.#entries = entries;
    this.#revision = revision;
    // The latest versions are the ones events use: compiled now, not on an event's time.
    for (const entry of entries.values()) {
      this.validator(entry.type.eventType, entry.type.latestVersion);
    }
    this.#logger.debug({ revision, types: entries.size }, 'schema registry loaded');
    return true;
  }
}

/** A validator that refuses everything, saying why. */
function uncompilable(message: string): ContractValidator {
  const validate = (() => {
    validate.errors = [
      { instancePath: '', schemaPath: '#', keyword: 'schema', params: {}, message },
    ];
    return false;
  }) as unknown as ContractValidator;
  return validate;
}
