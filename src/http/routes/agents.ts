import type { FastifyInstance } from 'fastify';
import { ErrorCodes } from '../../errors.ts';
import type { AgentRunStatus, AgentStore } from '../../ports/agent-store.ts';
import * as api from '../api-schemas/agents.ts';
import { problem } from '../api-schemas/common.ts';
import { problemOf, sendProblem } from '../problem.ts';

/** Agent runs, and molecules with their facts and agent answers. */
export async function agentRoutes(app: FastifyInstance, options: { agents: AgentStore }) {
  const { agents } = options;

  app.get(
    '/api/v1/agents/runs',
    {
      schema: {
        summary: 'Agent runs, newest first',
        tags: ['agents'],
        querystring: api.runsQuery,
        response: { 200: api.runsResponse, 422: problem },
      },
    },
    async (request) => {
      const query = request.query as {
        molecule_id?: string;
        status?: AgentRunStatus;
        agent?: string;
        limit: number;
      };
      const runs = await agents.listRuns({
        limit: query.limit,
        ...(query.molecule_id === undefined ? {} : { moleculeId: query.molecule_id }),
        ...(query.status === undefined ? {} : { status: query.status }),
        ...(query.agent === undefined ? {} : { agent: query.agent }),
      });
      return { runs: runs.map(api.runToJson) };
    },
  );

  app.get(
    '/api/v1/molecules/:molecule_id',
    {
      schema: {
        summary: 'A molecule: its computed facts, the latest agent answer and the agent runs',
        tags: ['agents'],
        params: api.moleculeParams,
        querystring: api.moleculeQuery,
        response: { 200: api.moleculeResponse, 404: problem, 422: problem },
      },
    },
    async (request, reply) => {
      const { molecule_id: id } = request.params as { molecule_id: string };
      const { runs } = request.query as { runs: number };
      const molecule = await agents.molecule(id, runs);
      if (molecule === undefined) {
        return sendProblem(
          reply,
          problemOf(ErrorCodes.NOT_FOUND, `no molecule with id "${id}"`, 'Molecule not found'),
        );
      }
      return api.moleculeJson(molecule);
    },
  );
}
