/**
 * Where the event contracts are kept (issue #21): one row of settings per event type, its
 * schema versions (never changed once written) and a log of who changed what.
 */
import type { Compatibility, ViolationAction } from '../domain/schemas/model.ts';
import type { OutboxEvent } from './outbox.ts';

/** Who made a change: the API key (id and name), or the caller when keys are off. */
export interface SchemaActor {
  keyId: string | null;
  name: string;
}

export interface SchemaTypeRecord {
  eventType: string;
  compatibility: Compatibility;
  onViolation: ViolationAction;
  latestVersion: number;
  description: string | null;
  deprecatedAt: string | null;
  deprecationMessage: string | null;
  createdAt: string;
  updatedAt: string;
  updatedBy: SchemaActor;
}

export interface SchemaVersionRecord {
  eventType: string;
  version: number;
  schema: Record<string, unknown>;
  fingerprint: string;
  createdAt: string;
  createdBy: SchemaActor;
}

export type SchemaChangeKind = 'created' | 'version' | 'settings' | 'deprecated' | 'undeprecated';

export interface SchemaChangeRecord {
  id: number;
  eventType: string;
  change: SchemaChangeKind;
  version: number | null;
  detail: Record<string, unknown>;
  actor: SchemaActor;
  at: string;
}

/** The type as committed, when `change` looks at it. */
export interface CurrentSchema {
  type: SchemaTypeRecord;
  latest: SchemaVersionRecord;
}

/** What one change writes. */
export interface SchemaWrite {
  settings: {
    compatibility: Compatibility;
    onViolation: ViolationAction;
    description: string | null;
    /** true: deprecate now (kept if already); false: not deprecated. */
    deprecated: boolean;
    deprecationMessage: string | null;
  };
  /** A new version (numbered after the latest: 1 for a new type), or none. */
  version?: { schema: Record<string, unknown>; fingerprint: string };
  change: SchemaChangeKind;
  detail: Record<string, unknown>;
  actor: SchemaActor;
  /** The event announcing it, built from the committed state. */
  event: (after: CurrentSchema) => OutboxEvent;
}

export interface SchemaRegistryStore {
  /** Grows with every committed change, in commit order; readers poll it to notice changes. */
  revision(): Promise<number>;
  types(): Promise<SchemaTypeRecord[]>;
  type(eventType: string): Promise<SchemaTypeRecord | undefined>;
  /** Every version newer than `known` says for its type (all versions of a type it omits). */
  versionsAfter(known: ReadonlyMap<string, number>): Promise<SchemaVersionRecord[]>;
  version(eventType: string, version: number): Promise<SchemaVersionRecord | undefined>;
  versions(eventType: string): Promise<SchemaVersionRecord[]>;
  /** The newest changes of a type first. */
  changes(eventType: string, limit: number): Promise<SchemaChangeRecord[]>;
  /**
   * Shows `decide` the type as committed — with changes of other processes kept out until
   * this one commits — and writes what it returns, with its outbox event, its change log line,
   * a revision bump and a notification (channel `SCHEMAS_CHANNEL`), in one transaction.
   * `decide` returning undefined writes nothing; throwing rolls back.
   */
  change(
    eventType: string,
    decide: (current: CurrentSchema | undefined) => SchemaWrite | undefined,
  ): Promise<{ written: boolean; current: CurrentSchema | undefined }>;
}

/** The notification channel of registry changes (payload: the database schema). */
export const SCHEMAS_CHANNEL = 'herald_schemas';
