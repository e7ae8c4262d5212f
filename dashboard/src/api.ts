/** The Herald API, same origin; sends the API key the user saved when auth is on. */

const KEY = 'herald.apiKey';

export function apiKey(): string {
  return localStorage.getItem(KEY) ?? '';
}

export function setApiKey(key: string): void {
  if (key === '') localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, key);
}

export class ApiError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const key = apiKey();
  if (key !== '') headers.set('authorization', `Bearer ${key}`);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  const response = await fetch(path, { ...init, headers });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const problem = (await response.json()) as { title?: string; detail?: string };
      detail = problem.detail ?? problem.title ?? detail;
    } catch {
      // not a problem document
    }
    throw new ApiError(response.status, `${response.status}: ${detail}`);
  }
  return response;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await request(path)).json() as Promise<T>;
}

export async function getText(path: string): Promise<string> {
  return (await request(path)).text();
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return (await request(path, { method: 'POST', body: JSON.stringify(body) })).json() as Promise<T>;
}

export interface Summary {
  accepted: number;
  processed: number;
  failed: number;
  dead_lettered: number;
  queue_depth: number;
  rates_per_second: { accepted: number; processed: number; dead_lettered: number };
  partitions: {
    partition: number;
    lag: number;
    /** Its committed offset has not moved for STALL_AFTER_MS while events wait. */
    stalled?: boolean;
    stalled_for_s?: number;
    /** The event that holds a stalled partition, where the broker can tell. */
    head_event_id?: string;
  }[];
  broker: string;
  database: string;
  started_at: string;
}

export interface DeadLetter {
  id: string;
  topic: string;
  type: string;
  key: string;
  reason: string;
  error_code: string;
  last_error: string;
  attempts: number;
  first_failed_at: string;
  last_failed_at: string;
  replay_count: number;
  accepted_at: string;
  /** Null where jsonb could not hold it: then payload_text is its JSON text. */
  payload: Record<string, unknown> | null;
  payload_text?: string | null;
  /** Who dead-lettered it by hand (reason operator). */
  operator?: string | null;
}

export interface EventRecord {
  id: string;
  status: 'accepted' | 'processed' | 'failed' | 'dead_lettered';
  topic: string;
  type: string;
  key: string;
  payload: Record<string, unknown>;
  accepted_at: string;
  processed_at: string | null;
  enrichment: Record<string, unknown> | null;
  failure: Record<string, unknown> | null;
}

/** The answer to POST /api/v1/partitions/{p}/dead-letter-head. */
export interface UnblockResult {
  dry_run: boolean;
  partition: number;
  event_id: string;
  lag: number;
  stalled: boolean;
  requested_by?: string;
  detail: string;
}

export interface BulkResult {
  dry_run: boolean;
  matched: number;
  ids: string[];
  replayed?: number;
  purged?: number;
}

export interface AgentRun {
  id: number;
  event_id: string;
  molecule_id: string;
  agent: string;
  model: string;
  status: 'succeeded' | 'cached' | 'rejected' | 'fallback' | 'offline';
  needs_reenrichment: boolean;
  reenrichment_of: number | null;
  input: Record<string, unknown>;
  output: Record<string, unknown> | null;
  raw_output: string | null;
  error_code: string | null;
  error: string | null;
  tokens: { prompt: number; completion: number; total: number } | null;
  latency_ms: number;
  created_at: string;
}
