import type { Compatibility, ViolationAction } from '../../../domain/schemas/model.ts';
import type { Database } from '../../../ports/database.ts';
import {
  type CurrentSchema,
  SCHEMAS_CHANNEL,
  type SchemaChangeKind,
  type SchemaChangeRecord,
  type SchemaRegistryStore,
  type SchemaTypeRecord,
  type SchemaVersionRecord,
  type SchemaWrite,
} from '../../../ports/schema-registry.ts';
import * as sql from './schema-registry-sql.ts';
import { insertOutbox } from './users-sql.ts';

interface TypeRow {
  event_type: string;
  compatibility: Compatibility;
  on_violation: ViolationAction;
  latest_version: number;
  description: string | null;
  deprecated_at: Date | string | null;
  deprecation_message: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  updated_by_key_id: string | null;
  updated_by: string;
}

interface VersionRow {
  event_type: string;
  version: number;
  schema: Record<string, unknown>;
  fingerprint: string;
  created_at: Date | string;
  created_by_key_id: string | null;
  created_by: string;
}

interface ChangeRow {
  id: number | string;
  event_type: string;
  change: SchemaChangeKind;
  version: number | null;
  detail: Record<string, unknown>;
  actor_key_id: string | null;
  actor: string;
  at: Date | string;
}

const iso = (v: Date | string) => new Date(v).toISOString();

function toType(row: TypeRow): SchemaTypeRecord {
  return {
    eventType: row.event_type,
    compatibility: row.compatibility,
    onViolation: row.on_violation,
    latestVersion: row.latest_version,
    description: row.description,
    deprecatedAt: row.deprecated_at === null ? null : iso(row.deprecated_at),
    deprecationMessage: row.deprecation_message,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    updatedBy: { keyId: row.updated_by_key_id, name: row.updated_by },
  };
}

function toVersion(row: VersionRow): SchemaVersionRecord {
  return {
    eventType: row.event_type,
    version: row.version,
    schema: row.schema,
    fingerprint: row.fingerprint,
    createdAt: iso(row.created_at),
    createdBy: { keyId: row.created_by_key_id, name: row.created_by },
  };
}

/** The schema registry in PostgreSQL. */
export class PostgresSchemaRegistryStore implements SchemaRegistryStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async revision(): Promise<number> {
    const [row] = await this.#db.query<{ revision: number | string }>(sql.revision);
    return Number(row?.revision ?? 0);
  }

  async types(): Promise<SchemaTypeRecord[]> {
    return (await this.#db.query<TypeRow>(sql.types)).map(toType);
  }

  async type(eventType: string): Promise<SchemaTypeRecord | undefined> {
    const [row] = await this.#db.query<TypeRow>(sql.type, [eventType]);
    return row === undefined ? undefined : toType(row);
  }

  async versionsAfter(known: ReadonlyMap<string, number>): Promise<SchemaVersionRecord[]> {
    const rows = await this.#db.query<VersionRow>(sql.versionsAfter, [
      [...known.keys()],
      [...known.values()],
    ]);
    return rows.map(toVersion);
  }

  async version(eventType: string, version: number): Promise<SchemaVersionRecord | undefined> {
    const [row] = await this.#db.query<VersionRow>(sql.version, [eventType, version]);
    return row === undefined ? undefined : toVersion(row);
  }

  async versions(eventType: string): Promise<SchemaVersionRecord[]> {
    return (await this.#db.query<VersionRow>(sql.versions, [eventType])).map(toVersion);
  }

  async changes(eventType: string, limit: number): Promise<SchemaChangeRecord[]> {
    const rows = await this.#db.query<ChangeRow>(sql.changes, [eventType, limit]);
    return rows.map((r) => ({
      id: Number(r.id),
      eventType: r.event_type,
      change: r.change,
      version: r.version,
      detail: r.detail,
      actor: { keyId: r.actor_key_id, name: r.actor },
      at: iso(r.at),
    }));
  }

  async change(
    eventType: string,
    decide: (current: CurrentSchema | undefined) => SchemaWrite | undefined,
  ): Promise<{ written: boolean; current: CurrentSchema | undefined }> {
    return this.#db.transaction(async (tx) => {
      await tx.query(sql.lockRevision);
      const [typeRow] = await tx.query<TypeRow>(sql.type, [eventType]);
      let current: CurrentSchema | undefined;
      if (typeRow !== undefined) {
        const [latest] = await tx.query<VersionRow>(sql.version, [
          eventType,
          typeRow.latest_version,
        ]);
        if (latest === undefined) throw new Error(`schema ${eventType} has no latest version`);
        current = { type: toType(typeRow), latest: toVersion(latest) };
      }
      const write = decide(current);
      if (write === undefined) return { written: false, current };
      const { settings, actor } = write;
      let latest = current?.latest;
      const latestVersion = (current?.type.latestVersion ?? 0) + (write.version ? 1 : 0);
      const [row] = await tx.query<TypeRow>(sql.upsertType, [
        eventType,
        settings.compatibility,
        settings.onViolation,
        settings.description,
        settings.deprecated,
        settings.deprecated ? settings.deprecationMessage : null,
        actor.keyId,
        actor.name,
        latestVersion,
      ]);
      if (row === undefined) throw new Error('upsert returned no row');
      if (write.version !== undefined) {
        const [inserted] = await tx.query<VersionRow>(sql.insertVersion, [
          eventType,
          latestVersion,
          JSON.stringify(write.version.schema),
          write.version.fingerprint,
          actor.keyId,
          actor.name,
        ]);
        if (inserted === undefined) throw new Error('insert returned no row');
        latest = toVersion(inserted);
      }
      if (latest === undefined) throw new Error(`a new schema type ${eventType} needs a version`);
      const after = { type: toType(row), latest };
      await tx.query(sql.insertChange, [
        eventType,
        write.change,
        write.version === undefined ? null : latestVersion,
        JSON.stringify(write.detail),
        actor.keyId,
        actor.name,
      ]);
      const event = write.event(after);
      await tx.query(insertOutbox, [
        event.id,
        event.topic,
        event.key,
        event.type,
        JSON.stringify(event.payload),
        JSON.stringify(event.headers),
      ]);
      await tx.query(sql.bumpRevision);
      await tx.query(sql.notify, [SCHEMAS_CHANNEL]);
      return { written: true, current: after };
    });
  }
}
