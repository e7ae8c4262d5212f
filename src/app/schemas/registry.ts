import { createHash } from 'node:crypto';
import { uuidv7 } from '../../domain/ids.ts';
import { type Break, compatibilityBreaks } from '../../domain/schemas/compatibility.ts';
import { diffSchemas, type SchemaChange } from '../../domain/schemas/diff.ts';
import { screenSchema } from '../../domain/schemas/guard.ts';
import { canonicalJson } from '../../domain/schemas/json.ts';
import {
  type Compatibility,
  SCHEMA_EVENTS,
  SCHEMAS_TOPIC,
  type SchemaProblem,
  type ViolationAction,
} from '../../domain/schemas/model.ts';
import { ErrorCodes, HeraldError } from '../../errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type { OutboxEvent } from '../../ports/outbox.ts';
import type {
  CurrentSchema,
  SchemaActor,
  SchemaChangeKind,
  SchemaChangeRecord,
  SchemaRegistryStore,
  SchemaTypeRecord,
  SchemaVersionRecord,
  SchemaWrite,
} from '../../ports/schema-registry.ts';
import type { SchemaCatalog } from './catalog.ts';
import type { ContractCompiler } from './compiler.ts';

export interface RegisterInput {
  schema: unknown;
  compatibility?: Compatibility;
  onViolation?: ViolationAction;
  description?: string | null;
}

export interface SettingsInput {
  compatibility?: Compatibility;
  onViolation?: ViolationAction;
  description?: string | null;
  deprecated?: boolean;
  deprecationMessage?: string | null;
}

export interface RegisterResult {
  /** `created`: a new type (v1); `version`: a new version; `unchanged`: the same schema again. */
  outcome: 'created' | 'version' | 'settings' | 'unchanged';
  type: SchemaTypeRecord;
  latest: SchemaVersionRecord;
}

/** What a registration would do, without doing it (`dry_run`). */
export interface RegisterPreview {
  outcome: RegisterResult['outcome'];
  version: number;
  changes: SchemaChange[];
}

export interface SchemaDiff {
  from: number;
  to: number;
  changes: SchemaChange[];
  /** What breaks in each direction: backward (`to` accepts what `from` accepted), forward. */
  backward: Break[];
  forward: Break[];
}

const MAX_TYPES = 10_000;

/**
 * The schema registry's use cases: register a version (screened, compiled and checked for
 * compatibility with the latest), change a type's settings or deprecate it, and read it all
 * back. Every change is committed with a `schema.created` / `schema.updated` outbox event
 * naming the key that made it; this process's catalog follows at once, the others within
 * their poll.
 *
 * @example
 * await registry.register('purchase', { schema: { type: 'object', required: ['amount'],
 *   properties: { amount: { type: 'number' } } } }, { keyId: 'k1', name: 'ci' }, 'req-1');
 */
export class SchemaRegistry {
  readonly #store: SchemaRegistryStore;
  readonly #catalog: SchemaCatalog;
  readonly #compiler: ContractCompiler;
  readonly #logger: Logger;
  readonly #onEvent: () => void;

  constructor(
    store: SchemaRegistryStore,
    catalog: SchemaCatalog,
    compiler: ContractCompiler,
    logger: Logger,
    options: { onEvent?: () => void } = {},
  ) {
    this.#store = store;
    this.#catalog = catalog;
    this.#compiler = compiler;
    this.#logger = logger;
    this.#onEvent = options.onEvent ?? (() => {});
  }

  /**
   * Registers `input.schema` as the next version of `eventType` (v1 of a new type). The same
   * schema as the latest is not a new version. Throws SCHEMA_INVALID naming each problem of the
   * schema (`details.errors`), SCHEMA_INCOMPATIBLE naming what breaks (`details.breaks`).
   */
  async register(
    eventType: string,
    input: RegisterInput,
    actor: SchemaActor,
    correlationId: string | undefined,
  ): Promise<RegisterResult> {
    const schema = this.#checkedSchema(input.schema);
    const fingerprint = fingerprintOf(schema);
    if ((await this.#store.type(eventType)) === undefined && this.#catalog.size >= MAX_TYPES) {
      throw new HeraldError(
        ErrorCodes.SCHEMA_INVALID,
        `the registry holds at most ${MAX_TYPES} types`,
      );
    }
    let outcome: RegisterResult['outcome'] = 'unchanged';
    const { current } = await this.#store.change(eventType, (current) => {
      const settings = mergeSettings(current?.type, input);
      if (current !== undefined && current.latest.fingerprint === fingerprint) {
        if (sameSettings(current.type, settings)) return undefined;
        outcome = 'settings';
        return this.#write(current, settings, 'settings', {}, actor, correlationId);
      }
      if (current !== undefined) {
        const breaks = this.#breaks(settings.compatibility, current, schema);
        if (breaks.length > 0)
          throw incompatible(eventType, current, settings.compatibility, breaks);
      }
      outcome = current === undefined ? 'created' : 'version';
      return this.#write(current, settings, outcome, { fingerprint }, actor, correlationId, {
        schema,
        fingerprint,
      });
    });
    if (current === undefined) throw new Error('registered schema vanished');
    await this.#committed(outcome, eventType, current, actor);
    return { outcome, type: current.type, latest: current.latest };
  }

  /** What `register` would do, changing nothing: the same checks and refusals. */
  async preview(eventType: string, input: RegisterInput): Promise<RegisterPreview> {
    const schema = this.#checkedSchema(input.schema);
    const current = await this.#current(eventType);
    if (current === undefined) {
      return { outcome: 'created', version: 1, changes: diffSchemas({}, schema) };
    }
    const settings = mergeSettings(current.type, input);
    if (current.latest.fingerprint === fingerprintOf(schema)) {
      const outcome = sameSettings(current.type, settings) ? 'unchanged' : 'settings';
      return { outcome, version: current.latest.version, changes: [] };
    }
    const breaks = this.#breaks(settings.compatibility, current, schema);
    if (breaks.length > 0) throw incompatible(eventType, current, settings.compatibility, breaks);
    return {
      outcome: 'version',
      version: current.latest.version + 1,
      changes: diffSchemas(current.latest.schema, schema),
    };
  }

  /** Changes a type's settings or deprecation; no new version. NOT_FOUND for an unknown type. */
  async configure(
    eventType: string,
    input: SettingsInput,
    actor: SchemaActor,
    correlationId: string | undefined,
  ): Promise<RegisterResult> {
    let outcome: RegisterResult['outcome'] = 'unchanged';
    let change: SchemaChangeKind = 'settings';
    const { current } = await this.#store.change(eventType, (current) => {
      if (current === undefined) throw notFound(eventType);
      const settings = mergeSettings(current.type, input);
      if (sameSettings(current.type, settings)) return undefined;
      const wasDeprecated = current.type.deprecatedAt !== null;
      change =
        settings.deprecated && !wasDeprecated
          ? 'deprecated'
          : !settings.deprecated && wasDeprecated
            ? 'undeprecated'
            : 'settings';
      outcome = 'settings';
      return this.#write(current, settings, change, {}, actor, correlationId);
    });
    if (current === undefined) throw notFound(eventType);
    await this.#committed(outcome, eventType, current, actor);
    return { outcome, type: current.type, latest: current.latest };
  }

  list(): Promise<SchemaTypeRecord[]> {
    return this.#store.types();
  }

  /** A type with one of its versions (the latest by default). */
  async get(
    eventType: string,
    version?: number,
  ): Promise<{ type: SchemaTypeRecord; version: SchemaVersionRecord }> {
    const type = await this.#store.type(eventType);
    if (type === undefined) throw notFound(eventType);
    const record = await this.#store.version(eventType, version ?? type.latestVersion);
    if (record === undefined) {
      throw new HeraldError(
        ErrorCodes.NOT_FOUND,
        `"${eventType}" has no version ${version} (the latest is ${type.latestVersion})`,
      );
    }
    return { type, version: record };
  }

  async versions(eventType: string): Promise<SchemaVersionRecord[]> {
    const versions = await this.#store.versions(eventType);
    if (versions.length === 0) throw notFound(eventType);
    return versions;
  }

  async changes(eventType: string, limit = 100): Promise<SchemaChangeRecord[]> {
    if ((await this.#store.type(eventType)) === undefined) throw notFound(eventType);
    return this.#store.changes(eventType, limit);
  }

  /** How version `to` (default: the latest) differs from `from` (default: the one before). */
  async diff(eventType: string, from?: number, to?: number): Promise<SchemaDiff> {
    const type = await this.#store.type(eventType);
    if (type === undefined) throw notFound(eventType);
    const toVersion = to ?? type.latestVersion;
    const fromVersion = from ?? Math.max(1, toVersion - 1);
    const [a, b] = await Promise.all([
      this.get(eventType, fromVersion),
      this.get(eventType, toVersion),
    ]);
    const older = { version: fromVersion, schema: a.version.schema };
    const newer = { version: toVersion, schema: b.version.schema };
    return {
      from: fromVersion,
      to: toVersion,
      changes: diffSchemas(a.version.schema, b.version.schema),
      backward: compatibilityBreaks('backward', older, newer),
      forward: compatibilityBreaks('forward', older, newer),
    };
  }

  #checkedSchema(schema: unknown): Record<string, unknown> {
    const screened = screenSchema(schema);
    const problems: SchemaProblem[] =
      screened.length > 0 ? screened : this.#compiler.problems(schema as Record<string, unknown>);
    if (problems.length > 0) {
      throw new HeraldError(
        ErrorCodes.SCHEMA_INVALID,
        `the schema is not a usable contract: ${problems.map((p) => `${p.path || '(root)'} ${p.message}`).join('; ')}`,
        { details: { errors: problems } },
      );
    }
    return schema as Record<string, unknown>;
  }

  async #current(eventType: string): Promise<CurrentSchema | undefined> {
    const type = await this.#store.type(eventType);
    if (type === undefined) return undefined;
    const latest = await this.#store.version(eventType, type.latestVersion);
    return latest === undefined ? undefined : { type, latest };
  }

  #breaks(mode: Compatibility, current: CurrentSchema, schema: Record<string, unknown>): Break[] {
    if (mode === 'none') return [];
    return compatibilityBreaks(
      mode,
      { version: current.latest.version, schema: current.latest.schema },
      { version: current.latest.version + 1, schema },
    );
  }

  #write(
    current: CurrentSchema | undefined,
    settings: SchemaWrite['settings'],
    change: SchemaChangeKind,
    detail: Record<string, unknown>,
    actor: SchemaActor,
    correlationId: string | undefined,
    version?: SchemaWrite['version'],
  ): SchemaWrite {
    const changed = current === undefined ? {} : changedSettings(current.type, settings);
    return {
      settings,
      ...(version === undefined ? {} : { version }),
      change,
      detail: { ...detail, ...(Object.keys(changed).length > 0 ? { settings: changed } : {}) },
      actor,
      event: (after) => schemaEvent(after, change, actor, correlationId),
    };
  }

  async #committed(
    outcome: RegisterResult['outcome'],
    eventType: string,
    current: CurrentSchema,
    actor: SchemaActor,
  ): Promise<void> {
    if (outcome === 'unchanged') return;
    this.#onEvent();
    this.#logger.info(
      {
        eventType,
        version: current.latest.version,
        outcome,
        actor: actor.name,
        keyId: actor.keyId,
      },
      'schema registry changed',
    );
    // This process applies its own change before answering; others follow within their poll.
    await this.#catalog.refresh().catch((error: unknown) => {
      this.#logger.warn({ err: error }, 'schema catalog refresh after a change failed');
    });
  }
}

function fingerprintOf(schema: unknown): string {
  return createHash('sha256').update(canonicalJson(schema)).digest('hex');
}

function mergeSettings(
  type: SchemaTypeRecord | undefined,
  input: SettingsInput,
): SchemaWrite['settings'] {
  const deprecated = input.deprecated ?? type?.deprecatedAt != null;
  return {
    compatibility: input.compatibility ?? type?.compatibility ?? 'backward',
    onViolation: input.onViolation ?? type?.onViolation ?? 'reject',
    description: input.description !== undefined ? input.description : (type?.description ?? null),
    deprecated,
    deprecationMessage: !deprecated
      ? null
      : input.deprecationMessage !== undefined
        ? input.deprecationMessage
        : (type?.deprecationMessage ?? null),
  };
}

function changedSettings(type: SchemaTypeRecord, settings: SchemaWrite['settings']) {
  const before = {
    compatibility: type.compatibility,
    on_violation: type.onViolation,
    description: type.description,
    deprecated: type.deprecatedAt !== null,
    deprecation_message: type.deprecationMessage,
  };
  const after = {
    compatibility: settings.compatibility,
    on_violation: settings.onViolation,
    description: settings.description,
    deprecated: settings.deprecated,
    deprecation_message: settings.deprecationMessage,
  };
  const changed: Record<string, { from: unknown; to: unknown }> = {};
  for (const key of Object.keys(after) as (keyof typeof after)[]) {
    if (before[key] !== after[key]) changed[key] = { from: before[key], to: after[key] };
  }
  return changed;
}

function sameSettings(type: SchemaTypeRecord, settings: SchemaWrite['settings']): boolean {
  return Object.keys(changedSettings(type, settings)).length === 0;
}

function notFound(eventType: string): HeraldError {
  return new HeraldError(ErrorCodes.NOT_FOUND, `no schema is registered for "${eventType}"`, {
    details: { eventType },
  });
}

function incompatible(
  eventType: string,
  current: CurrentSchema,
  mode: Compatibility,
  breaks: Break[],
): HeraldError {
  const next = current.latest.version + 1;
  return new HeraldError(
    ErrorCodes.SCHEMA_INCOMPATIBLE,
    `v${next} of "${eventType}" is not ${mode} compatible with v${current.latest.version}: ${breaks
      .slice(0, 5)
      .map((b) => b.message)
      .join('; ')}${breaks.length > 5 ? ` (and ${breaks.length - 5} more)` : ''}`,
    { details: { eventType, compatibility: mode, against: current.latest.version, breaks } },
  );
}

/** The outbox event of a registry change: the type as it now is, and who changed it. */
function schemaEvent(
  after: CurrentSchema,
  change: SchemaChangeKind,
  actor: SchemaActor,
  correlationId: string | undefined,
): OutboxEvent {
  const id = uuidv7();
  const type = change === 'created' ? SCHEMA_EVENTS.created : SCHEMA_EVENTS.updated;
  return {
    id,
    topic: SCHEMAS_TOPIC,
    key: after.type.eventType,
    type,
    payload: {
      event_id: id,
      type,
      occurred_at: new Date().toISOString(),
      change,
      schema: schemaView(after.type, after.latest),
      actor: { key_id: actor.keyId, name: actor.name },
    },
    headers: correlationId === undefined ? {} : { correlation_id: correlationId },
  };
}

/** A type and one of its versions as the API, the CLI and the webhooks show them. */
export function schemaView(type: SchemaTypeRecord, version: SchemaVersionRecord) {
  return {
    event_type: type.eventType,
    version: version.version,
    latest_version: type.latestVersion,
    compatibility: type.compatibility,
    on_violation: type.onViolation,
    description: type.description,
    deprecated: type.deprecatedAt !== null,
    deprecated_at: type.deprecatedAt,
    deprecation_message: type.deprecationMessage,
    schema: version.schema,
    fingerprint: version.fingerprint,
    created_at: version.createdAt,
    created_by: { key_id: version.createdBy.keyId, name: version.createdBy.name },
    updated_at: type.updatedAt,
    updated_by: { key_id: type.updatedBy.keyId, name: type.updatedBy.name },
  };
}
