-- Agents (issue 6): every run of an agent on a molecule, and a cache of accepted answers.

-- One row per agent answer or failure. status: succeeded (the LLM answered and the answer was
-- accepted), cached (served from agent_results), rejected (the LLM answered, the answer failed
-- the schema or the cross-check), fallback (the offline agent answered because the LLM was
-- unavailable or rejected), offline (the offline agent is the configured agent).
-- needs_reenrichment marks fallback runs the periodic pass asks the LLM again.
CREATE TABLE IF NOT EXISTS agent_runs (
  run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id text NOT NULL,
  molecule_id text NOT NULL,
  agent text NOT NULL,
  model text NOT NULL,
  status text NOT NULL,
  needs_reenrichment boolean NOT NULL DEFAULT false,
  reenrichment_attempts integer NOT NULL DEFAULT 0,
  reenrichment_of bigint,
  cache_key text NOT NULL,
  input jsonb NOT NULL,
  output jsonb,
  raw_output text,
  error_code text,
  error text,
  prompt_tokens integer,
  completion_tokens integer,
  total_tokens integer,
  latency_ms integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS agent_runs_molecule ON agent_runs (molecule_id, run_id DESC);

CREATE INDEX IF NOT EXISTS agent_runs_event ON agent_runs (event_id);

CREATE INDEX IF NOT EXISTS agent_runs_status ON agent_runs (status, run_id DESC);

CREATE INDEX IF NOT EXISTS agent_runs_pending ON agent_runs (run_id) WHERE needs_reenrichment;

-- Accepted LLM answers per molecule structure (canonical SMILES, else Hill formula) and model.
CREATE TABLE IF NOT EXISTS agent_results (
  cache_key text NOT NULL,
  model text NOT NULL,
  agent text NOT NULL,
  output jsonb NOT NULL,
  run_id bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (cache_key, model)
);

-- GET /api/v1/molecules/{id} reads a molecule's events; partial, so other topics pay nothing.
CREATE INDEX IF NOT EXISTS processed_events_molecule ON processed_events (key, processed_at DESC)
  WHERE topic = 'chemical';
